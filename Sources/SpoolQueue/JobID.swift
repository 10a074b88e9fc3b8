import SpoolSupport
#if canImport(Glibc)
import Glibc
#endif

/// Job ids are ULIDs: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters).
/// They sort by creation time, which keeps `spool dead list` and logs in a readable order.
public enum JobID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(now: Int64 = SystemClock().nowMillis()) -> String {
        var random = SystemRandomNumberGenerator()
        let high = UInt64(now) << 16 | UInt64(random.next() & 0xFFFF)  // 48 time bits + 16 random
        let low = random.next()                                          // 64 random
        var bytes = [UInt8](repeating: 0, count: 26)
        // 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
        var hi = high, lo = low
        for index in stride(from: 25, through: 0, by: -1) {
            bytes[index] = alphabet[Int(lo & 31)]
            lo = (lo >> 5) | (hi << 59)
            hi >>= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True for a string of the shape `make()` produces; used to reject garbage before a Redis lookup.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 26 && text.utf8.allSatisfy { alphabet.contains($0) }
    }
}
