import Testing

@testable import SpoolSupport

/// The CSV reader's caps: a wide or long record is counted and refused without its fields being kept.
@Suite struct CSVReaderTests {
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
}
