import SpoolHTTP
import SpoolSupport
import Testing

@Suite struct SignatureTests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// RFC 2202, test cases 1, 2, 3 and 6 (a key longer than the block).
    @Test func hmacSHA1MatchesRFC2202() {
        let cases: [([UInt8], [UInt8], String)] = [
            ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b617318655057264e28bc0b6fb378c8ef146be00"),
            (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            ([UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
            ([UInt8](repeating: 0xaa, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
             "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        ]
        for (key, message, expected) in cases {
            #expect(hex(Hashing.hmacSHA1(key: key, message: message)) == expected)
        }
    }

    /// The example from Twilio's webhook-security documentation, worked through the published
    /// algorithm: URL, then the POST parameters sorted by name, each as name+value.
    @Test func twilioSignatureMatchesThePublishedExample() {
        let parameters = [
            ("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
            ("From", "+12349013030"), ("To", "+18005551212"),
        ]
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        #expect(TwilioSignature.sign(url: url, parameters: parameters, authToken: "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        #expect(TwilioSignature.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters.reversed(), authToken: "12345"))
        #expect(!TwilioSignature.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url, parameters: parameters, authToken: "54321"))
        #expect(!TwilioSignature.isValid(signature: "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", url: url + "&x=1", parameters: parameters, authToken: "12345"))
    }
}

@Suite struct SHA256Tests {
    /// FIPS 180-4 examples, and a message longer than one block.
    @Test func matchesTheStandardVectors() {
        #expect(Hashing.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hashing.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hashing.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Hashing.sha1Hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }
}

@Suite struct JSONValueTextTests {
    @Test func writesCompactSortedAndEscapedJSONThatParsesBack() throws {
        let value = JSONValue.object([
            "b": .array([.number(1), .number(-2.5), .bool(true), .null]), "a": .string("quote \" slash \\ line\n tab\t bell\u{07} é ✓"),
            "c": .object([:]), "big": .number(1e20),
        ])
        #expect(value.text == #"{"a":"quote \" slash \\ line\n tab\t bell\u0007 é ✓","b":[1,-2.5,true,null],"big":1e+20,"c":{}}"#)
        #expect(try JSONValue.parse(value.text) == value)
    }
}

@Suite struct CivilTimeTests {
    @Test func matchesKnownDates() {
        let t = CivilTime(unixMillis: 1_795_323_171_187)  // Sun, 22 Nov 2026 04:52:51.187 UTC
        #expect(t.rfc3339 == "2026-11-22T04:52:51.187Z" && t.weekday == 0)
        #expect(CivilTime(unixMillis: 0).rfc3339 == "1970-01-01T00:00:00.000Z" && CivilTime(unixMillis: 0).weekday == 4)
        #expect(CivilTime(unixMillis: 951_782_400_000).rfc3339 == "2000-02-29T00:00:00.000Z")
        #expect(CivilTime.daysFromCivil(year: 2000, month: 2, day: 29) * 86_400_000 == 951_782_400_000)
    }
}
