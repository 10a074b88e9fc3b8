/// The message layout SHA-1 and SHA-256 share: padded to 64-byte blocks with the bit length at the
/// end, read as big-endian 32-bit words.
enum BigEndianBlocks {
    static func padded(_ message: [UInt8]) -> [UInt8] {
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        return data
    }

    /// The 16 words of the block at `offset` into the first 16 entries of `words`.
    static func load(_ data: [UInt8], at offset: Int, into words: inout [UInt32]) {
        for i in 0..<16 {
            let b = offset + i * 4
            words[i] = UInt32(data[b]) << 24 | UInt32(data[b + 1]) << 16 | UInt32(data[b + 2]) << 8 | UInt32(data[b + 3])
        }
    }
}
