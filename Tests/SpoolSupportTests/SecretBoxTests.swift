import FoundationEssentials
import SpoolSupport
import Testing

/// Tokens at rest: AES-256-GCM with a key id on each value, bound to its context, across a rotation.
@Suite struct SecretBoxTests {
    private static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    /// 32 bytes counting up from `first`.
    private static func key(from first: UInt8) throws -> SecretKey { try SecretKey(base64: base64([UInt8](first..<first + 32))) }
    private let context = "calendar:01CONNECTION:refresh"

    @Test func aSealedSecretOpensForItsContextAndShowsNothing() throws {
        let newKey = try Self.key(from: 100)
        let box = SecretBox(current: newKey)
        let sealed = box.seal("1//refresh-token-value", context: context)
        #expect(sealed.hasPrefix("v1.\(newKey.id)."))
        #expect(!sealed.contains("refresh-token-value"))
        #expect(try box.open(sealed, context: context) == "1//refresh-token-value")
        // A fresh nonce each time: the same secret never seals to the same text.
        #expect(box.seal("1//refresh-token-value", context: context) != sealed)
        #expect(try box.open(box.seal("", context: context), context: context) == "")
        #expect(try box.open(box.seal("plain")) == "plain")
    }

    @Test func aSecretCopiedToAnotherRowOrPurposeDoesNotOpen() throws {
        let box = SecretBox(current: try Self.key(from: 100))
        let sealed = box.seal("token", context: context)
        for other in ["calendar:01OTHER:refresh", "calendar:01CONNECTION:access", ""] {
            #expect {
                try box.open(sealed, context: other)
            } throws: { error in
                let refusal = error as? SecretBoxError
                return refusal?.code == .authenticationFailure && refusal?.message.contains("'\(other)'") == true
            }
        }
    }

    @Test func valuesSealedBeforeARotationStillOpenAndAskToBeResealed() throws {
        let oldKey = try Self.key(from: 0)
        let newKey = try Self.key(from: 100)
        let before = SecretBox(current: oldKey)
        let sealed = before.seal("token", context: context)
        let after = SecretBox(current: newKey, previous: [oldKey])
        #expect(try after.open(sealed, context: context) == "token")
        #expect(after.needsResealing(sealed))
        let resealed = after.seal(try after.open(sealed, context: context), context: context)
        #expect(!after.needsResealing(resealed) && resealed.hasPrefix("v1.\(newKey.id)."))
        #expect(!before.needsResealing(sealed))

        // Once the old key is retired, its values name it.
        let retired = SecretBox(current: newKey)
        #expect {
            try retired.open(sealed, context: context)
        } throws: { error in
            let refusal = error as? SecretBoxError
            return refusal?.code == .unknownKey && refusal?.message.contains("key id '\(oldKey.id)'") == true
                && refusal?.message.contains("SPOOL_SECRET_KEYS_PREVIOUS") == true
        }
    }

    @Test func theKeyIDIsTheStartOfTheKeysSHA256() throws {
        let oldKey = try Self.key(from: 0)
        let newKey = try Self.key(from: 100)
        #expect(oldKey.id == String(Hashing.sha256Hex([UInt8](0..<32)).prefix(8)))
        #expect(oldKey.id != newKey.id && oldKey.id.count == 8)
        #expect("\(oldKey)" == "SecretKey(id: \(oldKey.id))")
        // Spaces and a line break around the base64 (a pasted `openssl rand -base64 32`) are fine.
        #expect(try SecretKey(base64: " " + Self.base64([UInt8](0..<32)) + "\n").id == oldKey.id)
    }

    @Test func badKeysSayWhatIsWrongWithoutShowingTheKey() {
        let short = Self.base64([UInt8](0..<16))
        #expect {
            try SecretKey(base64: short)
        } throws: { error in
            "\(error)" == "decodes to 16 bytes; an AES-256 key is 32 bytes" && !"\(error)".contains(short)
        }
        #expect {
            try SecretKey(base64: "not*base64*at*all")
        } throws: { error in
            "\(error)".hasPrefix("is not base64 (17 characters") && !"\(error)".contains("not*base64")
        }
        #expect { try SecretKey(base64: "") } throws: { "\($0)".hasPrefix("is empty") }
    }

    @Test func malformedAndAlteredValuesAreRefused() throws {
        let newKey = try Self.key(from: 100)
        let box = SecretBox(current: newKey)
        let sealed = box.seal("token", context: context)
        func code(_ text: String) -> SecretBoxError.Code? {
            do {
                _ = try box.open(text, context: context)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(code("token") == .malformed)
        #expect(code("v2.\(newKey.id).AAAA") == .malformed)
        #expect(code("v1.\(newKey.id).not+base64url") == .malformed)
        #expect(code("v1.\(newKey.id).AAAA") == .malformed)
        #expect(code("v1.ffffffff.AAAA") == .unknownKey)
        // One character of the ciphertext changed.
        var altered = Array(sealed)
        let index = altered.count - 5
        altered[index] = altered[index] == "A" ? "B" : "A"
        #expect(code(String(altered)) == .authenticationFailure)
    }

    @Test func withoutAKeyOnlyTheSandboxModeGetsTheSandboxKey() throws {
        let oldKey = try Self.key(from: 0)
        let newKey = try Self.key(from: 100)
        #expect {
            try SecretBox.configured(key: nil, sandboxMode: false)
        } throws: { error in
            let refusal = error as? SecretBoxError
            return refusal == .noKey && refusal?.message.contains("openssl rand -base64 32") == true
                && refusal?.message.contains("SPOOL_SECRET_KEY") == true
        }
        let sandbox = try SecretBox.configured(key: nil, sandboxMode: true)
        #expect(sandbox.usesSandboxKey && sandbox.current.id == "sandbox")
        #expect(sandbox.seal("t", context: context).hasPrefix("v1.sandbox."))
        // The documented sandbox key is the one in use.
        let documented = try SecretKey(base64: "c3Bvb2wtc2FuZGJveC1rZXktbm90LWEtc2VjcmV0ISE=")
        let fromDocs = SecretBox(current: documented)
        let renamed = fromDocs.seal("t", context: context).replacing("v1.\(documented.id).", with: "v1.sandbox.")
        #expect(try sandbox.open(renamed, context: context) == "t")
        // A configured key wins, sandbox or not.
        let configured = try SecretBox.configured(key: newKey, previous: [oldKey], sandboxMode: true)
        #expect(!configured.usesSandboxKey && configured.current.id == newKey.id && configured.previous.map(\.id) == [oldKey.id])
    }

    @Test func aDerivedKeyIsTheSameForTheSameKeyAndPurposeOnly() throws {
        let key = try Self.key(from: 100)
        let sameKey = try Self.key(from: 100)
        let otherKey = try Self.key(from: 0)
        let sessions = key.derivedKey(purpose: "dashboard-sessions")
        #expect(sessions.count == 32 && sessions == sameKey.derivedKey(purpose: "dashboard-sessions"))
        #expect(sessions != key.derivedKey(purpose: "something-else"))
        #expect(sessions != otherKey.derivedKey(purpose: "dashboard-sessions"))
        #expect(sessions != [UInt8](100..<132))
    }
}
