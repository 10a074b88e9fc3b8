@testable import SpoolStore
@testable import SpoolSupport
import Testing

/// The CSV reader's caps and the importer's header checks, without a database: a wide or long record
/// is counted and refused without its fields being kept.
@Suite struct ContactImportLimitsTests {
    @Test func aRecordOverTheFieldCapIsAFailureThatCountsItsFields() {
        var reader = CSVReader("a,b,c\n1,2,3,4,5\n\"x,\"\"y\",z\n", maximumFields: 3).makeIterator()
        #expect(reader.next() == .success(.init(line: 1, fields: ["a", "b", "c"])))
        guard case .failure(let failure)? = reader.next() else {
            Issue.record("expected a failure for five fields")
            return
        }
        #expect(failure.line == 2 && failure.fieldCount == 5 && failure.message.contains("more than the 3"))
        // Reading goes on after it, quotes and all.
        #expect(reader.next() == .success(.init(line: 3, fields: ["x,\"y", "z"])))
        #expect(reader.next() == nil)
    }

    /// Past the cap, a quote in the middle of a field is still a plain character, as within the cap.
    @Test func fieldsPastTheCapAreScannedLikeTheOthers() {
        var reader = CSVReader("a,b,c\"d\ne\n", maximumFields: 1).makeIterator()
        guard case .failure(let failure)? = reader.next() else {
            Issue.record("expected a failure for three fields")
            return
        }
        #expect(failure.fieldCount == 3)
        #expect(reader.next() == .success(.init(line: 2, fields: ["e"])))
    }

    @Test func aFieldOverTheByteCapFailsItsRecordOnly() {
        let long = String(repeating: "x", count: 100)
        var reader = CSVReader("phone,note\n1,\(long)\n2,short\n", maximumFieldBytes: 50).makeIterator()
        _ = reader.next()
        #expect(reader.next() == .failure(.init(line: 2, message: "field 2 is over 50 bytes")))
        #expect(reader.next() == .success(.init(line: 3, fields: ["2", "short"])))
    }

    @Test func theHeaderIsRefusedWhenTooWideOrNamingAColumnTwice() throws {
        func header(_ text: String) throws -> (names: [String], phone: Int) {
            var iterator = CSVReader(text, maximumFields: ContactImporter.maximumColumns).makeIterator()
            return try ContactImporter.header(&iterator)
        }
        func refusal(_ text: String) -> String? {
            do {
                _ = try header(text)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let wide = "phone," + (1..<5_000).map { "c\($0)" }.joined(separator: ",") + "\n"
        #expect(refusal(wide) == "line 1: the header has 5000 columns; at most \(ContactImporter.maximumColumns) are allowed")
        #expect(refusal("phone,Email,first name,email\n") == "line 1: column 'email' appears twice")
        #expect(refusal("phone,ci\u{0}ty\n") == "line 1: column 2 has a control character in its name")
        let fit = "phone," + (1..<ContactImporter.maximumColumns).map { "c\($0)" }.joined(separator: ",") + "\n"
        #expect(try header(fit).names.count == ContactImporter.maximumColumns)
        #expect(try header("Name,Mobile\n").phone == 1)
    }

    @Test func reasonsAreClippedAndRejectionsCappedButCounted() {
        var report = ContactImporter.Report()
        for line in 1...150 { report.reject(line: line, "phone: '" + String(repeating: "9", count: 10_000) + "' is too long", limit: 100) }
        #expect(report.rejected.count == 100 && report.rejectedTotal == 150 && report.rejectedTruncated)
        #expect(report.rejected.allSatisfy { $0.reason.utf8.count <= ContactImporter.maximumReason + 3 })
        #expect(report.rejected.last?.line == 100)
    }
}
