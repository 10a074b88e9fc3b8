import Synchronization

/// Checks a kind's Swift argument type against its declaration at start: every field the type needs
/// is declared and required, and every declared field it reads has the declared type.
///
/// The type is decoded once from a probe that answers every question with a placeholder and notes
/// which top-level fields the type reads, as what JSON type, and whether it may be absent
/// (`decodeIfPresent`, an optional). Enums read as strings must be `CaseIterable`, so that the probe
/// can name one of their cases.
enum ArgumentsCheck {
    struct Read: Equatable {
        var type: ArgumentSchema.FieldType
        var optional: Bool
    }

    /// The fields `type` reads at its top level.
    static func fields<T: Decodable>(of type: T.Type) -> [String: Read] {
        let notes = Notes()
        _ = try? T(from: Probe(notes: notes, depth: 0))
        return notes.fields.withLock { $0 }
    }

    static func check<T: Decodable>(_ type: T.Type, against spec: JobKindSpec, file: String) throws {
        let read = fields(of: type)
        for (name, field) in read.sorted(by: { $0.key < $1.key }) {
            let place = "\(file): field 'args.\(name)'"
            // An optional field the declaration leaves out is simply never there (or, where the
            // declaration admits other fields, checked when a job brings it).
            guard let declared = spec.arguments.fields[name] else {
                if field.optional { continue }
                throw SpoolConfigError("\(place): \(T.self) needs it, but the declaration does not declare it")
            }
            // An integer is a number; a Double may read a declared integer too.
            let fits = declared.type == field.type || (field.type == .number && declared.type == .integer)
            guard fits else {
                throw SpoolConfigError("\(place): declared \(declared.type.rawValue), but \(T.self) reads it as \(field.type.rawValue)")
            }
            if !field.optional && !declared.required {
                throw SpoolConfigError("\(place): \(T.self) needs it, but the declaration does not make it required")
            }
        }
    }
}

private final class Notes: Sendable {
    let fields = Mutex<[String: ArgumentsCheck.Read]>([:])
    func note(_ name: String, _ type: ArgumentSchema.FieldType, optional: Bool) {
        fields.withLock { if $0[name] == nil { $0[name] = .init(type: type, optional: optional) } }
    }
}

private func firstCase<C: CaseIterable>(_ type: C.Type) -> Any? { C.allCases.first }

/// The JSON type a Swift type is read as, and a placeholder value of it.
private enum Placeholder {
    static func type<T>(_ type: T.Type) -> ArgumentSchema.FieldType {
        switch type {
        case is String.Type: return .string
        case is Bool.Type: return .boolean
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: return .integer
        case is Double.Type, is Float.Type: return .number
        default:
            if String(describing: type).hasPrefix("Array<") { return .array }
            if type is any CaseIterable.Type { return .string }
            return .object
        }
    }

    static func value<T: Decodable>(_ type: T.Type, notes: Notes, depth: Int) throws -> T {
        switch type {
        case is String.Type: return "" as! T
        case is Bool.Type: return false as! T
        case is Int.Type: return 0 as Int as! T
        case is Int64.Type: return 0 as Int64 as! T
        case is Int32.Type: return 0 as Int32 as! T
        case is UInt.Type: return 0 as UInt as! T
        case is UInt64.Type: return 0 as UInt64 as! T
        case is Double.Type: return 0.0 as Double as! T
        case is Float.Type: return 0 as Float as! T
        default:
            if let iterable = type as? any CaseIterable.Type, let first = firstCase(iterable) as? T { return first }
            return try T(from: Probe(notes: notes, depth: depth + 1))
        }
    }
}

private struct Probe: Decoder {
    let notes: Notes
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(ProbeKeyed<Key>(notes: notes, depth: depth))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { ProbeUnkeyed() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { ProbeSingle(notes: notes, depth: depth) }
}

private struct ProbeKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let notes: Notes
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    private func read<T: Decodable>(_ type: T.Type, _ key: Key, optional: Bool) throws -> T {
        if depth == 0 { notes.note(key.stringValue, Placeholder.type(type), optional: optional) }
        return try Placeholder.value(type, notes: notes, depth: depth)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try read(type, key, optional: false) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try read(type, key, optional: false) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try read(type, key, optional: false) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try read(type, key, optional: false) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try read(type, key, optional: false) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try read(type, key, optional: true) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try read(type, key, optional: true) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try read(type, key, optional: true) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try read(type, key, optional: true) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try read(type, key, optional: true) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try read(type, key, optional: true) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        if depth == 0 { notes.note(key.stringValue, .object, optional: false) }
        return KeyedDecodingContainer(ProbeKeyed<NestedKey>(notes: notes, depth: depth + 1))
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        if depth == 0 { notes.note(key.stringValue, .array, optional: false) }
        return ProbeUnkeyed()
    }
    func superDecoder() throws -> any Decoder { Probe(notes: notes, depth: depth) }
    func superDecoder(forKey key: Key) throws -> any Decoder { Probe(notes: notes, depth: depth + 1) }
}

/// Every array is empty to the probe.
private struct ProbeUnkeyed: UnkeyedDecodingContainer {
    var codingPath: [any CodingKey] { [] }
    var count: Int? { 0 }
    var isAtEnd: Bool { true }
    var currentIndex: Int { 0 }
    mutating func decodeNil() throws -> Bool { true }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        throw DecodingError.valueNotFound(type, .init(codingPath: [], debugDescription: "the probe's arrays are empty"))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        throw DecodingError.valueNotFound(type, .init(codingPath: [], debugDescription: "the probe's arrays are empty"))
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { ProbeUnkeyed() }
    mutating func superDecoder() throws -> any Decoder {
        throw DecodingError.valueNotFound(Any.self, .init(codingPath: [], debugDescription: "the probe's arrays are empty"))
    }
}

private struct ProbeSingle: SingleValueDecodingContainer {
    let notes: Notes
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    func decodeNil() -> Bool { false }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try Placeholder.value(type, notes: notes, depth: depth) }
}
