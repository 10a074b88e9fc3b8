/// RFC 4180 CSV: fields separated by commas, optionally in double quotes, a quote inside a quoted
/// field doubled (""), line breaks inside quotes kept. Each record comes with the line it starts on,
/// so errors can name it. A final line break is optional; blank lines are skipped.
public struct CSVReader: Sequence {
    public struct Record: Sendable, Equatable {
        public let line: Int
        public let fields: [String]
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    let bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    public struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        /// The next record, a failure (a quote left open until the end of the file), or nil at the end.
        public mutating func next() -> Result<Record, Failure>? {
            while index < bytes.count, bytes[index] == 10 || bytes[index] == 13 {  // blank lines
                if bytes[index] == 10 { line += 1 }
                index += 1
            }
            if index >= bytes.count { return nil }
            let start = line
            var fields: [String] = []
            var field: [UInt8] = []
            var quoted = false
            var wasQuoted = false
            while index < bytes.count {
                let byte = bytes[index]
                if quoted {
                    if byte == 34 {
                        if index + 1 < bytes.count, bytes[index + 1] == 34 { field.append(34); index += 2; continue }
                        quoted = false
                    } else {
                        if byte == 10 { line += 1 }
                        field.append(byte)
                    }
                    index += 1
                    continue
                }
                switch byte {
                case 34 where field.isEmpty && !wasQuoted:
                    quoted = true
                    wasQuoted = true
                case 44:
                    fields.append(String(decoding: field, as: UTF8.self))
                    field.removeAll(keepingCapacity: true)
                    wasQuoted = false
                case 13:
                    break
                case 10:
                    index += 1
                    line += 1
                    fields.append(String(decoding: field, as: UTF8.self))
                    return .success(Record(line: start, fields: fields))
                default:
                    field.append(byte)
                }
                index += 1
            }
            if quoted { return .failure(Failure(line: start, message: "a quoted field is not closed before the end of the file")) }
            fields.append(String(decoding: field, as: UTF8.self))
            return .success(Record(line: start, fields: fields))
        }
    }
}
