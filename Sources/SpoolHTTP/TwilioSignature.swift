import FoundationEssentials
import SpoolSupport

/// Twilio's webhook signature (the X-Twilio-Signature header): Base64 of HMAC-SHA1, keyed with the
/// account's auth token, over the full callback URL followed by every POST parameter sorted by name,
/// each written as name then value with nothing between.
public enum TwilioSignature {
    public static func sign(url: String, parameters: [(String, String)], authToken: String) -> String {
        var message = url
        for (name, value) in parameters.sorted(by: byteOrder) {
            message += name + value
        }
        let code = Hashing.hmacSHA1(key: Array(authToken.utf8), message: Array(message.utf8))
        return Data(code).base64EncodedString()
    }

    /// Unix-style, case-sensitive: by UTF-8 bytes, name first, then value for repeated names.
    private static func byteOrder(_ a: (String, String), _ b: (String, String)) -> Bool {
        if a.0 != b.0 { return a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
        return a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
    }

    public static func isValid(signature: String, url: String, parameters: [(String, String)], authToken: String) -> Bool {
        let expected = sign(url: url, parameters: parameters, authToken: authToken)
        return Hashing.constantTimeEqual(Array(expected.utf8), Array(signature.utf8))
    }
}
