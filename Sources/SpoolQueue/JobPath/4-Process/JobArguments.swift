import SpoolSupport

/// A job's arguments as a JSON object with typed getters. A field of the wrong type is a
/// `JobError.malformedArgs` naming the field, which sends the job to the dead set with that reason.
public struct JobArguments: Sendable {
    public let fields: [String: JSONValue]

    public init(_ job: Job) throws(JobError) {
        let value: JSONValue
        do { value = try JSONValue.parse(job.args) } catch {
            throw .malformedArgs("args of job \(job.id) (\(job.kind)): \(error)")
        }
        guard let fields = value.objectValue else {
            throw .malformedArgs("args of job \(job.id) (\(job.kind)): expected a JSON object, got \(value.typeName)")
        }
        self.fields = fields
    }

    public func int(_ name: String) throws(JobError) -> Int? {
        try typed(name, "integer") { $0.intValue }
    }

    public func string(_ name: String) throws(JobError) -> String? {
        try typed(name, "string") { $0.stringValue }
    }

    public func bool(_ name: String) throws(JobError) -> Bool? {
        try typed(name, "boolean") { $0.boolValue }
    }

    private func typed<T>(_ name: String, _ type: String, _ read: (JSONValue) -> T?) throws(JobError) -> T? {
        guard let value = fields[name], value != .null else { return nil }
        guard let typed = read(value) else {
            throw .malformedArgs("field '\(name)': expected \(type), got \(value.typeName) \(value.text)")
        }
        return typed
    }
}
