import SpoolSupport

/// A campaign body with `{{first_name}}`, `{{last_name}}`, `{{phone}}` and custom fields
/// (`{{city}}`). A field a contact lacks is an error at launch, not at send time.
public struct MessageTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable { case text(String), field(String) }
    let parts: [Part]
    public let fields: [String]
    public static let builtins: Set<String> = ["first_name", "last_name", "phone"]

    public init(_ body: String) throws(ContactImporter.InputError) {
        var parts: [Part] = []
        var rest = Substring(body)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw ContactImporter.InputError(message: "body: '{{' without '}}' after '\(rest[open.lowerBound...].prefix(20))'")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ContactImporter.InputError(message: "body: '{{\(name)}}' is not a field name (letters, digits and _)")
            }
            parts.append(.field(name.lowercased()))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
        var seen: [String] = []
        for case .field(let name) in parts where !seen.contains(name) { seen.append(name) }
        fields = seen
    }

    /// The text for one contact, or the first field it lacks.
    public func render(firstName: String?, lastName: String?, phone: String, custom: JSONValue) -> Result<String, MissingField> {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .field(let name):
                let value: String?
                switch name {
                case "first_name": value = firstName
                case "last_name": value = lastName
                case "phone": value = phone
                default: value = custom[name]?.stringValue ?? custom[name].map(\.text)
                }
                guard let value, !value.isEmpty else { return .failure(MissingField(name: name)) }
                out += value
            }
        }
        return .success(out)
    }

    /// The text with each field's value from `values`; a field not there is left empty (an AI reply's
    /// system prompt, whose variables are checked when it is set).
    public func render(_ values: [String: String]) -> String {
        parts.map { part in
            switch part {
            case .text(let text): text
            case .field(let name): values[name] ?? ""
            }
        }.joined()
    }

    public struct MissingField: Error, Sendable, Equatable { public let name: String }
}

extension MessageTemplate {
    /// Why `template` cannot be a template over `variables` (an AI prompt, a reminder text), naming the
    /// variable or the problem; nil when it can. `what` names the template in the message ("a prompt
    /// variable"); the field is the caller's to name.
    public static func problem(_ template: String, variables: Set<String>, maximumCharacters: Int, what: String) -> String? {
        let characters = template.unicodeScalars.count
        guard (1...maximumCharacters).contains(characters) else {
            return "must be 1 to \(maximumCharacters) characters, got \(characters)"
        }
        guard !template.utf8.contains(0) else { return "contains a NUL byte, which cannot be stored" }
        let parsed: MessageTemplate
        do { parsed = try MessageTemplate(template) } catch {
            return error.message.replacing("body: ", with: "")
        }
        if let unknown = parsed.fields.first(where: { !variables.contains($0) }) {
            return "{{\(unknown)}} is not \(what); use \(variables.sorted().map { "{{\($0)}}" }.joined(separator: ", "))"
        }
        return nil
    }
}
