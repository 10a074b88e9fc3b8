import SpoolSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Job ids are ULIDs: 48 bits of milliseconds then 80 random bits, in Crockford base32 (26 characters).
/// They sort by creation time, which keeps `spool dead list` and logs in a readable order.
public enum JobID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// Random bits for ids: SplitMix64 over a counter, from a seed the system's generator gives once.
    /// Ids need to be unique, not secret, and two getrandom calls per id cost more than the rest of an
    /// enqueue's CPU. (API keys, which are secrets, use the system generator.)
    private static let seed: UInt64 = {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()
    private static let counter = Atomic<UInt64>(0)

    static func nextRandom() -> UInt64 {
        var z = seed &+ counter.wrappingAdd(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public static func make(now: Int64 = SystemClock().nowMillis()) -> String {
        let high = UInt64(now) << 16 | UInt64(nextRandom() & 0xFFFF)  // 48 time bits + 16 random
        let low = nextRandom()  // 64 random
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
