import SpoolSupport

/// JSON laid out for reading on a page: one field a line, two spaces a level, keys sorted. Strings
/// are written as JSON writes them; the template then escapes the whole text as HTML.
enum DashboardJSON {
    static func pretty(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: "", into: &out)
        return out
    }

    /// `text` laid out when it is JSON, else as it is.
    static func pretty(text: String) -> String {
        guard let value = try? JSONValue.parse(text) else { return text }
        return pretty(value)
    }

    private static func write(_ value: JSONValue, indent: String, into out: inout String) {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += inner
                write(item, indent: inner, into: &out)
                out += index < items.count - 1 ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let fields) where !fields.isEmpty:
            out += "{\n"
            let sorted = fields.sorted { $0.key < $1.key }
            for (index, field) in sorted.enumerated() {
                out += inner + JSONValue.string(field.key).text + ": "
                write(field.value, indent: inner, into: &out)
                out += index < sorted.count - 1 ? ",\n" : "\n"
            }
            out += indent + "}"
        default:
            out += value.text
        }
    }
}
