import SpoolSupport

/// A job kind whose arguments are a Swift type: the Swift half of the recipe in docs/job-kinds.md.
///
/// The worker parses a job's arguments once (the limiter may have) and decodes them into `Arguments`;
/// a job whose arguments do not decode is dead with the field named. At start, `Arguments` is checked
/// against the kind's declaration in `Jobs/<kind>.json` (see `ArgumentsCheck`): a field the type reads
/// that the declaration lacks, a type that differs, or a field the type needs that the declaration lets
/// producers leave out stops the process with the file and the field.
public protocol JobKind: JobHandler {
    associatedtype Arguments: Decodable & Sendable
    func perform(_ job: Job, arguments: Arguments, context: JobContext) async throws -> JobOutcome
}

extension JobKind {
    public func perform(_ job: Job, context: JobContext) async throws -> JobOutcome {
        try await perform(job, arguments: try Self.arguments(of: job), context: context)
    }

    /// The job's arguments as `Arguments`, or `JobError.malformedArgs` naming the field.
    public static func arguments(of job: Job) throws(JobError) -> Arguments {
        let value: JSONValue
        if let parsed = job.parsedArgs {
            value = parsed
        } else {
            do { value = try JSONValue.parse(job.args) } catch { throw .malformedArgs("args: \(error)") }
        }
        do { return try JSONValueDecoder().decode(Arguments.self, from: value) } catch {
            throw .malformedArgs(JSONValueDecoder.describe(error))
        }
    }

    public func checkArguments(against spec: JobKindSpec, file: String) throws {
        try ArgumentsCheck.check(Arguments.self, against: spec, file: file)
    }
}
