import SpoolSupport
import Testing

@Suite struct HashingTests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// RFC 2202, test cases 1, 2, 3 and 6 (a key longer than the block).
    @Test func hmacSHA1MatchesRFC2202() {
        let cases: [([UInt8], [UInt8], String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b617318655057264e28bc0b6fb378c8ef146be00"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
            (
                [UInt8](repeating: 0xaa, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112"
            ),
        ]
        for (key, message, expected) in cases {
            #expect(hex(Hashing.hmacSHA1(key: key, message: message)) == expected)
        }
    }

    /// RFC 4231, test cases 1 and 2.
    @Test func hmacSHA256MatchesRFC4231() {
        #expect(
            hex(Hashing.hmacSHA256(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            hex(Hashing.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// FIPS 180-4 examples, and a message longer than one block.
    @Test func sha256MatchesTheStandardVectors() {
        #expect(Hashing.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hashing.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Hashing.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// SHA-1 names Redis scripts (EVALSHA): FIPS 180-1 examples, the empty message, and one over many blocks.
    @Test func sha1MatchesKnownVectors() {
        #expect(Hashing.sha1Hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hashing.sha1Hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(Hashing.sha1Hex(Array(String(repeating: "a", count: 1000).utf8)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
