import SpoolJobs
import SpoolQueue
import TestSupport
import Testing

/// The kinds this build registers, against the repository's declarations and their argument types.
@Suite struct JobRegistryTests {
    /// The kinds Spool ships agree with their declarations.
    @Test func theRepositorysKindsAgreeWithTheirDeclarations() throws {
        let directory = TestEnvironment.packageRoot + "/Jobs"
        try checkHandlers(JobRegistry.handlers(nil), against: try JobKindCatalog.load(directory: directory), jobsDirectory: directory)
    }

    /// A job whose arguments do not fit its kind's type is malformed, with the field named.
    @Test func argumentsThatDoNotDecodeNameTheField() {
        let job = Job(
            id: "j", queue: "sms", kind: "send", args: #"{"message_id":"m","from":"+1","segments":"two"}"#, attempt: 0, maxAttempts: 1,
            enqueuedAt: 0, tenant: nil, leaseToken: "t")
        #expect {
            _ = try SendHandler.arguments(of: job)
        } throws: { error in
            (error as? JobError)?.message.hasPrefix("args.segments: expected an integer, got string") == true
        }
    }
}
