import FoundationEssentials

/// A job as a worker holds it, from the moment fetch leases it until it is settled.
public struct Job: Sendable, Equatable {
    public let id: String
    public let queue: String
    public let kind: String
    /// The arguments as the producer sent them: a JSON object, decoded only by the kind's handler.
    public let args: String
    /// Attempts already made before this one (0 on the first run).
    public let attempt: Int
    public let maxAttempts: Int
    public let enqueuedAt: Int64
    public let tenant: String?
    /// Proves this worker holds the lease; every settle script checks it.
    public let leaseToken: String

    public init(id: String, queue: String, kind: String, args: String, attempt: Int, maxAttempts: Int,
                enqueuedAt: Int64, tenant: String?, leaseToken: String) {
        self.id = id
        self.queue = queue
        self.kind = kind
        self.args = args
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.enqueuedAt = enqueuedAt
        self.tenant = tenant
        self.leaseToken = leaseToken
    }

    /// Decodes the arguments into the handler's type. A failure is a `JobError.malformedArgs`,
    /// which sends the job to the dead set with the decoder's explanation, never a retry.
    public func decodeArgs<Args: Decodable>(_ type: Args.Type = Args.self) throws -> Args {
        do {
            return try JSONDecoder().decode(Args.self, from: Data(args.utf8))
        } catch let error as DecodingError {
            throw JobError.malformedArgs("args of job \(id) (\(kind)): \(error.spoolDescription)")
        } catch {
            throw JobError.malformedArgs("args of job \(id) (\(kind)): \(error)")
        }
    }
}

extension DecodingError {
    /// "field 'retry.max_attempts': expected Int" rather than Foundation's nested debug dump.
    public var spoolDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the top level" : "field '\(keys.joined(separator: ".").replacing(".[", with: "["))'"
        }
        switch self {
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type), \(context.debugDescription)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context))"
            return "field '\(key.stringValue)' is missing\(parent)"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError.map { " (\($0))" }) ?? ""
            return "\(path(context)): \(context.debugDescription)\(underlying)"
        @unknown default: return "\(self)"
        }
    }
}
