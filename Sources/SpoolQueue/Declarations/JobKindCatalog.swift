import FoundationEssentials
import SpoolSupport

/// Every declared job kind, loaded from `Jobs/*.json` at start. A declaration that does not make sense
/// stops the process with an error naming the file and the field.
public struct JobKindCatalog: Sendable {
    public private(set) var specs: [String: JobKindSpec]

    public init(_ specs: [JobKindSpec]) {
        self.specs = Dictionary(specs.map { ($0.kind, $0) }, uniquingKeysWith: { _, last in last })
    }

    public subscript(kind: String) -> JobKindSpec? { specs[kind] }
    public var kinds: [String] { specs.keys.sorted() }
    /// The queues the declared kinds use, sorted.
    public var queues: [String] { Array(Set(specs.values.map(\.queue))).sorted() }

    /// Reads every `.json` file in `directory`; each must declare one kind named like the file.
    public static func load(directory: String) throws -> JobKindCatalog {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw SpoolConfigError("\(directory): no such folder, or it cannot be read; set SPOOL_JOBS_DIR to the Jobs folder")
        }
        if names.isEmpty { throw SpoolConfigError("\(directory): no job declarations (*.json) found") }
        var specs: [JobKindSpec] = []
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { throw SpoolConfigError("\(path): cannot be read") }
            specs.append(try parse(String(decoding: data, as: UTF8.self), file: path))
        }
        return JobKindCatalog(specs)
    }

    /// Parses one declaration; `file` is named in every error.
    public static func parse(_ text: String, file: String) throws -> JobKindSpec {
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw SpoolConfigError("\(file): \(error)") }
        var reader = try FieldReader(json, file: file, path: "")
        let kind = try reader.string("kind", required: true)!
        guard isValidName(kind) else { throw SpoolConfigError("\(file): field 'kind': '\(kind)' must be 1-64 of a-z 0-9 - _") }
        let fileKind = String(file.split(separator: "/").last ?? "").replacing(".json", with: "")
        guard fileKind == kind else {
            throw SpoolConfigError("\(file): field 'kind': '\(kind)' does not match the file name '\(fileKind).json'")
        }
        var spec = JobKindSpec(kind: kind)
        reader.optional("description")
        if let queue = try reader.string("queue") {
            guard isValidName(queue) else { throw SpoolConfigError("\(file): field 'queue': '\(queue)' must be 1-64 of a-z 0-9 - _") }
            spec.queue = queue
        }
        if let seconds = try reader.number("timeout_seconds", range: 0.001...86_400) { spec.timeout = .milliseconds(Int64(seconds * 1000)) }
        if let seconds = try reader.number("idempotency_ttl_seconds", range: 1...31_536_000) {
            spec.idempotencyTTL = .seconds(Int64(seconds))
        }
        if var retry = try reader.object("retry") {
            if let attempts = try retry.number("max_attempts", range: 1...1000, integer: true) { spec.maxAttempts = Int(attempts) }
            switch try retry.string("backoff") ?? "polynomial" {
            case "polynomial":
                spec.backoff = .polynomial
            case "exponential":
                let base = try retry.number("base_seconds", range: 0.001...86_400) ?? 1
                let cap = try retry.number("cap_seconds", range: 0.001...31_536_000) ?? 3600
                let jitter = try retry.number("jitter", range: 0...1) ?? 0.2
                spec.backoff = .exponential(base: .milliseconds(Int64(base * 1000)), cap: .milliseconds(Int64(cap * 1000)), jitter: jitter)
            case "constant":
                let delay = try retry.number("delay_seconds", range: 0...31_536_000) ?? 10
                spec.backoff = .constant(.milliseconds(Int64(delay * 1000)))
            case let other:
                throw SpoolConfigError("\(file): field 'retry.backoff': '\(other)' is not one of polynomial, exponential, constant")
            }
            try retry.finish()
        }
        if var args = try reader.object("args") {
            var schema = ArgumentSchema()
            if let others = args.takeBool("additional") { schema.allowsOtherFields = others }
            for name in args.remainingKeys {
                var field = try args.object(name, required: true)!
                let typeName = try field.string("type", required: true)!
                guard let type = ArgumentSchema.FieldType(rawValue: typeName) else {
                    throw SpoolConfigError(
                        "\(file): field 'args.\(name).type': '\(typeName)' is not one of \(ArgumentSchema.FieldType.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                let required = try field.bool("required") ?? false
                var declared = ArgumentSchema.Field(type: type, required: required)
                if type == .integer || type == .number {
                    declared.minimum = try field.number("minimum", range: -1e15...1e15, integer: type == .integer)
                    declared.maximum = try field.number("maximum", range: -1e15...1e15, integer: type == .integer)
                    if let low = declared.minimum, let high = declared.maximum, low > high {
                        throw SpoolConfigError("\(file): field 'args.\(name).maximum': \(high.compact) is below the minimum \(low.compact)")
                    }
                }
                if type == .string {
                    declared.maxLength = try field.number("max_length", range: 1...16_777_216, integer: true).map { Int($0) }
                }
                try field.finish()
                schema.fields[name] = declared
            }
            spec.arguments = schema
        }
        if let policy = try reader.string("enqueue") {
            guard let known = EnqueuePolicy(rawValue: policy) else {
                throw SpoolConfigError(
                    "\(file): field 'enqueue': '\(policy)' is not one of \(EnqueuePolicy.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            spec.enqueue = known
        }
        if let limits = try reader.array("limits") {
            spec.limits = try limits.enumerated().map { index, value in
                try LimitDeclaration.parse(value, at: "\(file): field 'limits[\(index)]'", arguments: spec.arguments)
            }
            let names = spec.limits.compactMap(\.name)
            if let repeated = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
                throw SpoolConfigError("\(file): field 'limits': name '\(repeated)' is given twice")
            }
            let keys = spec.limits.map(\.key.text)
            if let repeated = keys.first(where: { key in keys.filter { $0 == key }.count > 1 }) {
                throw SpoolConfigError("\(file): field 'limits': key '\(repeated)' is declared twice")
            }
        }
        if var unique = try reader.object("unique") {
            spec.unique = try UniqueSpec.parse(&unique, file: file, arguments: spec.arguments)
        }
        try reader.finish()
        return spec
    }

    /// Kind and queue names: 1-64 of a-z 0-9 - _ (they become part of Redis keys).
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }
    }
}

/// Reads fields of a JSON object, remembering which were read so that unknown (misspelled) ones are errors.
struct FieldReader {
    private var object: [String: JSONValue]
    private let file: String
    private let path: String
    private var seen: Set<String> = []

    init(_ value: JSONValue, file: String, path: String) throws {
        guard let object = value.objectValue else {
            throw SpoolConfigError(
                "\(file): \(path.isEmpty ? "the top level" : "field '\(path)'") must be a JSON object, got \(value.typeName)")
        }
        self.object = object
        self.file = file
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    private func fail(_ key: String, _ why: String) -> SpoolConfigError { SpoolConfigError("\(file): field '\(name(key))': \(why)") }

    var remainingKeys: [String] { object.keys.filter { !seen.contains($0) }.sorted() }

    mutating func optional(_ key: String) { seen.insert(key) }

    mutating func string(_ key: String, required: Bool = false) throws -> String? {
        seen.insert(key)
        guard let value = object[key] else { if required { throw fail(key, "is required") }; return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            throw fail(key, "expected a non-empty string, got \(value.typeName) \(value.text)")
        }
        return text
    }

    mutating func number(_ key: String, range: ClosedRange<Double>, integer: Bool = false) throws -> Double? {
        seen.insert(key)
        guard let value = object[key] else { return nil }
        guard let number = value.numberValue, !integer || value.intValue != nil else {
            throw fail(key, "expected \(integer ? "an integer" : "a number"), got \(value.typeName) \(value.text)")
        }
        guard range.contains(number) else {
            throw fail(key, "\(value.text) is outside \(range.lowerBound.compact)...\(range.upperBound.compact)")
        }
        return number
    }

    mutating func bool(_ key: String) throws -> Bool? {
        seen.insert(key)
        guard let value = object[key] else { return nil }
        guard let flag = value.boolValue else { throw fail(key, "expected true or false, got \(value.typeName) \(value.text)") }
        return flag
    }

    mutating func takeBool(_ key: String) -> Bool? {
        guard let flag = object[key]?.boolValue else { return nil }
        seen.insert(key)
        return flag
    }

    mutating func array(_ key: String) throws -> [JSONValue]? {
        seen.insert(key)
        guard let value = object[key] else { return nil }
        guard let items = value.arrayValue else { throw fail(key, "expected an array, got \(value.typeName)") }
        return items
    }

    mutating func object(_ key: String, required: Bool = false) throws -> FieldReader? {
        seen.insert(key)
        guard let value = object[key] else { if required { throw fail(key, "is required") }; return nil }
        return try FieldReader(value, file: file, path: name(key))
    }

    /// Throws for the first field that nothing read: almost always a typo.
    func finish() throws {
        if let unknown = remainingKeys.first { throw fail(unknown, "unknown field") }
    }
}

extension Double {
    var compact: String { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self) }
}

/// A configuration or declaration that cannot be used. The message names the file or variable, the field and the value.
public struct SpoolConfigError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
