import SpoolQueue
import Testing

@Suite struct JobIDTests {
    @Test func idsAreULIDsThatSortByTime() {
        let first = JobID.make(now: 1_700_000_000_000)
        let second = JobID.make(now: 1_700_000_000_001)
        #expect(first.count == 26)
        #expect(JobID.isValid(first))
        #expect(first < second)
        #expect(JobID.make() != JobID.make())
        #expect(!JobID.isValid("not-an-id"))
    }
}
