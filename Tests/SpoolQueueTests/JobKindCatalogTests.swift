import Foundation
import SpoolQueue
import SpoolSupport
import Testing

@Suite struct JobKindCatalogTests {
    @Test func parsesAFullDeclaration() throws {
        let spec = try JobKindCatalog.parse(
            """
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
        (
            #"{"kind": "noop", "retry": {"max_attempts": "5"}}"#,
            "Jobs/noop.json: field 'retry.max_attempts': expected an integer, got string \"5\""
        ),
        (#"{"kind": "noop", "retry": {"backoff": "fibonacci"}}"#, "Jobs/noop.json: field 'retry.backoff': 'fibonacci' is not one of"),
        (#"{"kind": "other"}"#, "Jobs/noop.json: field 'kind': 'other' does not match the file name 'noop.json'"),
        (#"{"queue": "x"}"#, "Jobs/noop.json: field 'kind': is required"),
        (#"{"kind": "noop", "queue": "a:b"}"#, "Jobs/noop.json: field 'queue': 'a:b' must be"),
        (#"{"kind": "noop", "args": {"to": {"type": "text"}}}"#, "Jobs/noop.json: field 'args.to.type': 'text' is not one of"),
        (#"{"kind": "noop""#, "Jobs/noop.json: not valid JSON"),
        (#"{"kind": "noop", "limits": {}}"#, "Jobs/noop.json: field 'limits': expected an array, got object"),
        (#"{"kind": "noop", "limits": [{"rate": 1, "per": "second"}]}"#, "Jobs/noop.json: field 'limits[0]'.key: is required"),
        (
            #"{"kind": "noop", "limits": [{"key": "s:{from}", "rate": 1, "per": "second"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.key: placeholder {from} in 's:{from}' is neither tenant, queue, kind nor"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s:{kind", "concurrency": 2}]}"#,
            "Jobs/noop.json: field 'limits[0]'.key: 's:{kind' has a '{' without '}'"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "rate": 1, "per": "week"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.per: \"week\" is not one of second, minute, hour, day"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "rate": 1, "per": "second", "quota": 5}]}"#,
            "Jobs/noop.json: field 'limits[0]': give exactly one of rate, concurrency or quota (found 2)"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "rate": 0, "per": "second"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.rate: expected an integer in 1...1000000000, got 0"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "quota": 5, "per": "second"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.per: \"second\" is not one of minute, hour, day"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "concurrency": 2, "cost": 3}]}"#,
            "Jobs/noop.json: field 'limits[0]'.cost: a concurrency limit counts jobs"
        ),
        // Values that reach a limiter are bounded by the declaration, or the process does not start.
        (
            #"{"kind": "noop", "args": {"n": {"type": "integer"}}, "limits": [{"key": "s", "rate": 2, "per": "second", "cost": "{n}"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.cost: argument 'n' must declare \"minimum\" >= 1 and \"maximum\""
        ),
        (
            #"{"kind": "noop", "args": {"from": {"type": "string"}}, "limits": [{"key": "s:{from}", "rate": 2, "per": "second"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.key: placeholder {from} in 's:{from}': args.from must declare \"max_length\""
        ),
        (#"{"kind": "noop", "enqueue": "anyone"}"#, "Jobs/noop.json: field 'enqueue': 'anyone' is not one of tenants, operator, internal"),
        (
            #"{"kind": "noop", "args": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}"#,
            "Jobs/noop.json: field 'args.n.maximum': 1 is below the minimum 5"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "rate": 2, "per": "second", "cost": "{segments}"}]}"#,
            "Jobs/noop.json: field 'limits[0]'.cost: '{segments}' must name an integer argument declared in args"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "rate": 2, "per": "second", "brust": 3}]}"#,
            "Jobs/noop.json: field 'limits[0]'.brust: unknown field"
        ),
        (
            #"{"kind": "noop", "limits": [{"key": "s", "concurrency": 2}, {"key": "s", "concurrency": 3}]}"#,
            "Jobs/noop.json: field 'limits': key 's' is declared twice"
        ),
    ])
    func rejectsBadDeclarationsNamingFileAndField(text: String, message: String) {
        #expect {
            try JobKindCatalog.parse(text, file: "Jobs/noop.json")
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func parsesLimitsWithTemplatesAndCosts() throws {
        let spec = try JobKindCatalog.parse(
            """
            {"kind": "send", "enqueue": "internal",
             "args": {"from": {"type": "string", "required": true, "max_length": 32}, "segments": {"type": "integer", "minimum": 1, "maximum": 10}},
             "limits": [{"key": "sms:sender:{from}", "rate": 1, "per": "second", "cost": "{segments}"},
                        {"key": "sms:account:{tenant}", "concurrency": 100},
                        {"key": "tenant:{tenant}:sms:daily", "quota": 10000, "per": "day"}]}
            """, file: "Jobs/send.json")
        #expect(spec.limits.map(\.key.text) == ["sms:sender:{from}", "sms:account:{tenant}", "tenant:{tenant}:sms:daily"])
        #expect(
            spec.limits.map(\.spec) == [
                .rate(units: 1, period: .seconds(1), burst: 1), .concurrency(max: 100), .quota(units: 10_000, window: .seconds(86_400)),
            ])
        #expect(spec.limits[0].cost == .argument("segments"))
        #expect(spec.enqueue == .internal)
        #expect(
            spec.arguments.problems(in: try JSONValue.parse(#"{"from":"+15005550006","segments":99999999}"#))
                == ["args.segments: 99999999 is above the maximum 10"])
        #expect(
            spec.arguments.problems(in: try JSONValue.parse(#"{"from":"\#(String(repeating: "9", count: 33))","segments":0}"#))
                == ["args.from: 33 bytes; at most 32", "args.segments: 0 is below the minimum 1"])
        #expect(try LimitSpec.parseRate("500/min") == (500, .seconds(60)))
        #expect(throws: SpoolConfigError.self) { try LimitSpec.parseRate("5 per s") }
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
