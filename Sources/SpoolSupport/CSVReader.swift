/// RFC 4180 CSV: fields separated by commas, optionally in double quotes, a quote inside a quoted
/// field doubled (""), line breaks inside quotes kept. Each record comes with the line it starts on,
/// so errors can name it. A final line break is optional; blank lines are skipped.
///
/// `maximumFields` and `maximumFieldBytes` cap what one record may hold: a record with more fields, or
/// a longer field, is a failure (saying how many fields, or which field) whose bytes are scanned and not
/// kept, so a 60,000-column line or a 60 MB value costs a scan and no strings.
public struct CSVReader: Sequence {
    public struct Record: Sendable, Equatable {
        public let line: Int
        public let fields: [String]
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        /// For a record over `maximumFields`: how many fields it has.
        public var fieldCount: Int? = nil
        public var description: String { "line \(line): \(message)" }
    }

    let bytes: [UInt8]
    let maximumFields: Int
    let maximumFieldBytes: Int

    public init(_ text: String, maximumFields: Int = .max, maximumFieldBytes: Int = .max) {
        bytes = Array(text.utf8)
        self.maximumFields = maximumFields
        self.maximumFieldBytes = maximumFieldBytes
    }

    public init(bytes: [UInt8], maximumFields: Int = .max, maximumFieldBytes: Int = .max) {
        self.bytes = bytes
        self.maximumFields = maximumFields
        self.maximumFieldBytes = maximumFieldBytes
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes, maximumFields: maximumFields, maximumFieldBytes: maximumFieldBytes) }

    public struct Iterator: IteratorProtocol {
        let bytes: [UInt8]
        let maximumFields: Int
        let maximumFieldBytes: Int
        var index = 0
        var line = 1

        /// The next record, a failure (a quote left open until the end of the file, too many fields, a
        /// field too long), or nil at the end.
        public mutating func next() -> Result<Record, Failure>? {
            while index < bytes.count, bytes[index] == 10 || bytes[index] == 13 {  // blank lines
                if bytes[index] == 10 { line += 1 }
                index += 1
            }
            if index >= bytes.count { return nil }
            let start = line
            var fields: [String] = []
            var field: [UInt8] = []
            var fieldLength = 0  // the field's bytes so far, kept or not
            var count = 0  // fields ended so far, kept or not
            var overlong: Int?  // the first field (from 1) over maximumFieldBytes
            var quoted = false
            var wasQuoted = false
            // Past a cap, fields are counted and their bytes dropped: the record is a failure.
            let (cap, byteCap) = (maximumFields, maximumFieldBytes)
            func append(_ byte: UInt8) {
                fieldLength += 1
                guard count < cap, overlong == nil else { return }
                guard fieldLength <= byteCap else {
                    overlong = count + 1
                    field = []
                    fields = []
                    return
                }
                field.append(byte)
            }
            func end() {
                if count < cap && overlong == nil { fields.append(String(decoding: field, as: UTF8.self)) }
                count += 1
                field.removeAll(keepingCapacity: true)
                fieldLength = 0
            }
            while index < bytes.count {
                let byte = bytes[index]
                if quoted {
                    if byte == 34 {
                        if index + 1 < bytes.count, bytes[index + 1] == 34 { append(34); index += 2; continue }
                        quoted = false
                    } else {
                        if byte == 10 { line += 1 }
                        append(byte)
                    }
                    index += 1
                    continue
                }
                switch byte {
                case 34 where fieldLength == 0 && !wasQuoted:
                    quoted = true
                    wasQuoted = true
                case 44:
                    end()
                    wasQuoted = false
                case 13:
                    break
                case 10:
                    index += 1
                    line += 1
                    end()
                    return record(start, fields, count, overlong)
                default:
                    append(byte)
                }
                index += 1
            }
            if quoted { return .failure(Failure(line: start, message: "a quoted field is not closed before the end of the file")) }
            end()
            return record(start, fields, count, overlong)
        }

        private func record(_ line: Int, _ fields: [String], _ count: Int, _ overlong: Int?) -> Result<Record, Failure> {
            guard count <= maximumFields else {
                return .failure(
                    Failure(line: line, message: "\(count) fields, more than the \(maximumFields) a record may have", fieldCount: count))
            }
            if let overlong { return .failure(Failure(line: line, message: "field \(overlong) is over \(maximumFieldBytes) bytes")) }
            return .success(Record(line: line, fields: fields))
        }
    }
}
