/// Redis Cluster's hash slot of a key: CRC16 (XMODEM) of the key, or of its `{tag}` when it has a
/// non-empty one, modulo 16,384.
///
/// Written here: no package we depend on offers this CRC16, and the cluster specification defines it
/// in a dozen lines (polynomial 0x1021, initial value 0, no reflection).
public enum HashSlot {
    public static let count = 16_384

    public static func of<Key: Collection>(_ key: Key) -> Int where Key.Element == UInt8, Key.Index == Int {
        var hashed = key[...]
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = key[(open + 1)..<close]
        }
        var crc: UInt16 = 0
        for byte in hashed { crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)] }
        return Int(crc) & (count - 1)
    }

    public static func of(_ key: String) -> Int { of(Array(key.utf8)) }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}
