import Foundation
import SpoolQueue
import Testing

@Suite struct JobKindCatalogTests {
    @Test func parsesAFullDeclaration() throws {
        let spec = try JobKindCatalog.parse("""
        {"kind": "send", "queue": "sms", "timeout_seconds": 20, "idempotency_ttl_seconds": 600,
         "retry": {"max_attempts": 8, "backoff": "exponential", "base_seconds": 2, "cap_seconds": 300, "jitter": 0.1},
         "args": {"to": {"type": "string", "required": true}, "segments": {"type": "integer"}}}
        """, file: "Jobs/send.json")
        #expect(spec.queue == "sms")
        #expect(spec.timeout == .seconds(20))
        #expect(spec.maxAttempts == 8)
        #expect(spec.backoff == .exponential(base: .seconds(2), cap: .seconds(300), jitter: 0.1))
        #expect(spec.arguments.fields["to"] == .init(type: .string, required: true))
        #expect(spec.arguments.problems(in: .object(["to": .number(5)])) == ["args.to: expected string, got integer 5"])
        #expect(spec.arguments.problems(in: .object([:])) == ["args.to: required string is missing"])
    }

    @Test(arguments: [
        (#"{"kind": "noop", "retyr": {}}"#, "Jobs/noop.json: field 'retyr': unknown field"),
        (#"{"kind": "noop", "retry": {"max_attempts": 0}}"#, "Jobs/noop.json: field 'retry.max_attempts': 0 is outside 1...1000"),
        (#"{"kind": "noop", "retry": {"max_attempts": "5"}}"#, "Jobs/noop.json: field 'retry.max_attempts': expected an integer, got string \"5\""),
        (#"{"kind": "noop", "retry": {"backoff": "fibonacci"}}"#, "Jobs/noop.json: field 'retry.backoff': 'fibonacci' is not one of"),
        (#"{"kind": "other"}"#, "Jobs/noop.json: field 'kind': 'other' does not match the file name 'noop.json'"),
        (#"{"queue": "x"}"#, "Jobs/noop.json: field 'kind': is required"),
        (#"{"kind": "noop", "queue": "a:b"}"#, "Jobs/noop.json: field 'queue': 'a:b' must be"),
        (#"{"kind": "noop", "args": {"to": {"type": "text"}}}"#, "Jobs/noop.json: field 'args.to.type': 'text' is not one of"),
        (#"{"kind": "noop""#, "Jobs/noop.json: not valid JSON"),
    ])
    func rejectsBadDeclarationsNamingFileAndField(text: String, message: String) {
        #expect {
            try JobKindCatalog.parse(text, file: "Jobs/noop.json")
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func loadsTheRepositorysJobsFolder() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let catalog = try JobKindCatalog.load(directory: root + "/Jobs")
        #expect(catalog.kinds.contains("noop"))
        #expect(catalog.queues.contains("default"))
    }

    @Test func aMissingFolderSaysWhatToSet() {
        #expect {
            try JobKindCatalog.load(directory: "/nonexistent/Jobs")
        } throws: { error in
            "\(error)".contains("/nonexistent/Jobs") && "\(error)".contains("SPOOL_JOBS_DIR")
        }
    }
}
