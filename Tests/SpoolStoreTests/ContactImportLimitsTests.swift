import SpoolSupport
import Testing

@testable import SpoolStore

/// The importer's header checks and its report's caps, without a database. (The CSV reader's own caps
/// are in `CSVReaderTests`.)
@Suite struct ContactImportLimitsTests {
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
