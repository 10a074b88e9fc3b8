import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SpoolAPI
import SpoolSupport
import TestSupport
import Testing

/// What a hostile tenant's body can cost the API: an NDJSON bulk request or a contact CSV answers in a
/// bounded size (counts, and the first 100 rejections), and the body's own size and width are capped.
@Suite struct BulkLimitsTests {
    /// 200,000 bad lines: counted, 100 listed. The answer used to list every one (303 MB for 5 MB of lines).
    @Test func anNDJSONBodyOfBadLinesListsOnlyTheFirstHundred() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let lines = String(repeating: "1\n", count: 200_000)
            let answer = try await client.call(.post, "/v1/jobs/bulk", key: f.a.enqueue, json: lines, contentType: "application/x-ndjson")
            #expect(answer.status == 200, "\(answer.body.text.prefix(300))")
            #expect(answer.body["accepted"] == .number(0) && answer.body["rejected"] == .number(200_000))
            let items = answer.body["items"]?.arrayValue ?? []
            #expect(items.count == 100 && answer.body["items_truncated"] == .bool(true))
            #expect(items.first?["index"] == .number(0) && items.last?["index"] == .number(99))
            #expect(items.first?["error"]?["field"] == .string("(body)"))
        }
        #expect(try await f.queue.pendingCount() == 0)
    }

    /// A JSON bulk body of tiny values (far more memory parsed than bytes) is refused past 500,000 values.
    @Test func aJSONBulkBodyOfTinyValuesIsRefused() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let zeros = Array(repeating: "0", count: 600_000).joined(separator: ",")
            let answer = try await client.call(
                .post, "/v1/jobs/bulk", key: f.a.enqueue, json: #"{"jobs": [{"kind": "noop", "args": {"a": [\#(zeros)]}}]}"#)
            #expect(
                answer.status == 400 && answer.body["error"]?["message"]?.stringValue?.contains("500000 values") == true,
                "\(answer.body.text.prefix(300))")
        }
    }

    /// Past 64 MiB, reading stops: the jobs of the lines before stay enqueued and the 413 counts them.
    @Test func anNDJSONBodyOverTheCapIsCutThereWithA413() async throws {
        let f = try await APIFixture()
        // Three jobs, then lines just over 1 MiB (each one rejected item, never kept) until past 64 MiB:
        // 63 of them end before the cap, the 64th crosses it.
        let jobs = String(repeating: #"{"kind": "noop"}"# + "\n", count: 3)
        var body = ByteBuffer()
        body.reserveCapacity(jobs.utf8.count + 64 * ((1 << 20) + 2))
        body.writeString(jobs)
        for _ in 0..<64 {
            body.writeRepeatingByte(UInt8(ascii: "x"), count: (1 << 20) + 1)
            body.writeString("\n")
        }
        #expect(body.readableBytes > 64 << 20)
        let payload = body
        let answer = try await f.test { client in
            try await client.execute(
                uri: "/v1/jobs/bulk", method: .post,
                headers: [.authorization: "Bearer \(f.a.enqueue)", .contentType: "application/x-ndjson"], body: payload
            ) { response in
                (Int(response.status.code), (try? JSONValue.parse(String(buffer: response.body))) ?? .null)
            }
        }
        #expect(answer.0 == 413, "\(answer.1.text.prefix(500))")
        #expect(answer.1["error"]?["code"] == .string("too_large"))
        #expect(answer.1["error"]?["message"]?.stringValue?.contains("3 jobs accepted") == true, "\(answer.1.text.prefix(500))")
        #expect(answer.1["accepted"] == .number(3) && answer.1["rejected"] == .number(63) && answer.1["lines_read"] == .number(66))
        #expect((answer.1["items"]?.arrayValue?.count ?? 0) == 63 && answer.1["items_truncated"] == .bool(false))
        #expect(try await f.queue.pendingCount() == 3)
    }

    @Test func validNDJSONIsStillAcceptedInFull() async throws {
        let f = try await APIFixture()
        try await f.test { client in
            let lines = (0..<3_000).map { #"{"kind": "noop", "args": {"sleep_ms": \#($0 % 5)}}"# }.joined(separator: "\n")
            let answer = try await client.call(.post, "/v1/jobs/bulk", key: f.a.enqueue, json: lines, contentType: "application/x-ndjson")
            #expect(answer.status == 200, "\(answer.body.text.prefix(300))")
            #expect(answer.body["accepted"] == .number(3_000) && answer.body["rejected"] == .number(0))
            #expect(answer.body["items"] == .array([]) && answer.body["items_truncated"] == .bool(false))
        }
        #expect(try await f.queue.pendingCount() == 3_000)
    }

    /// A 5,000-column header is refused at the header, naming the header line, its width and the cap (a
    /// quadratic duplicate check on 60,000 columns once stalled the whole API for 21 s). How fast is a
    /// benchmark's business (bench/api-memory.sh), not a timed test's.
    @Test func aCSVWithTooManyColumnsIsRefusedQuickly() async throws {
        let f = try await APIFixture()
        let header = "phone," + (1..<5_000).map { "c\($0)" }.joined(separator: ",")
        let csv = header + "\n+14155550100" + String(repeating: ",x", count: 4_999) + "\n"
        try await f.test { client in
            let answer = try await client.call(.post, "/v1/contacts/import", key: f.a.admin, json: csv, contentType: "text/csv")
            #expect(answer.status == 422, "\(answer.body.text.prefix(300))")
            #expect(answer.body["error"]?["field"] == .string("body"))
            let message = answer.body["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("line 1") && message.contains("5000 columns") && message.contains("at most 100"), "\(message)")
        }
    }

    /// 20,000 bad rows: all counted, 100 listed. Every one used to be listed (114 MB for 4 MB of rows).
    @Test func aCSVOfBadRowsListsOnlyTheFirstHundred() async throws {
        let f = try await APIFixture()
        let csv = "phone,first_name\n" + String(repeating: "12,Bad\n", count: 20_000)
        try await f.test { client in
            let answer = try await client.call(
                .post, "/v1/contacts/import?dry_run=true", key: f.a.admin, json: csv, contentType: "text/csv")
            #expect(answer.status == 200, "\(answer.body.text.prefix(300))")
            #expect(answer.body["rows"] == .number(20_000) && answer.body["valid"] == .number(0))
            #expect(answer.body["rejected_total"] == .number(20_000) && answer.body["rejected_truncated"] == .bool(true))
            let rejected = answer.body["rejected"]?.arrayValue ?? []
            #expect(rejected.count == 100 && rejected.first?["line"] == .number(2) && rejected.last?["line"] == .number(101))
            #expect(rejected.first?["reason"]?.stringValue?.contains("has 2 digits") == true)
        }
    }

    @Test func aCSVNamingAColumnTwiceIsRefusedNamingIt() async throws {
        let f = try await APIFixture()
        let csv = "phone,email,first_name,Email\n+14155550100,a@example.com,Ann,b@example.com\n"
        try await f.test { client in
            let answer = try await client.call(.post, "/v1/contacts/import", key: f.a.admin, json: csv, contentType: "text/csv")
            #expect(answer.status == 422, "\(answer.body.text.prefix(300))")
            #expect(answer.body["error"]?["message"]?.stringValue?.contains("column 'email' appears twice") == true, "\(answer.body.text)")
        }
    }
}
