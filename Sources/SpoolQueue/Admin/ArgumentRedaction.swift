import SpoolSupport

/// Job arguments as an operator's screen shows them: the values of keys that look like secrets
/// (tokens, passwords, API keys, authorization headers), at any depth, replaced by "[redacted]".
public enum ArgumentRedaction {
    public static let mask = "[redacted]"

    /// Words that make a key secret, as a whole word of the key: `api_key`, `apiKey`, `X-Api-Key`,
    /// `refresh_token` and `accessToken` match; `tokens_used`, `monkey` and `keyword` do not.
    static let secretWords: Set<String> = [
        "token", "secret", "password", "passwd", "key", "apikey", "authorization", "credential", "credentials",
    ]

    /// `args` (JSON text) with secret values masked. Text that is not JSON is not shown at all: it
    /// cannot be searched for secrets reliably, so the screen says what it is instead (`spool job`,
    /// the operator's debugging view, prints it as stored).
    public static func redactedArguments(_ args: String) -> String {
        guard let value = try? JSONValue.parse(args) else {
            return "[not valid JSON (\(args.utf8.count) bytes): not shown, it may hold secrets]"
        }
        return redacted(value).text
    }

    /// `value` with the values of secret-looking keys masked, in nested objects and arrays too.
    public static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let fields):
            var masked: [String: JSONValue] = [:]
            for (key, field) in fields { masked[key] = isSecret(key) ? .string(mask) : redacted(field) }
            return .object(masked)
        case .array(let items):
            return .array(items.map(redacted))
        default:
            return value
        }
    }

    /// Whether a key names a secret: one of its words (split at `_`, `-`, `.`, spaces and lower-to-upper
    /// case changes) is a secret word, or the whole key, lowercased without separators, is one
    /// (`APIKEY`, `accesstoken`).
    public static func isSecret(_ key: String) -> Bool {
        var words: [String] = []
        var word = ""
        var previousWasLower = false
        for character in key {
            if !character.isLetter && !character.isNumber {
                if !word.isEmpty { words.append(word) }
                word = ""
                previousWasLower = false
                continue
            }
            if character.isUppercase && previousWasLower {
                words.append(word)
                word = ""
            }
            word += character.lowercased()
            previousWasLower = character.isLowercase || character.isNumber
        }
        if !word.isEmpty { words.append(word) }
        if words.contains(where: { secretWords.contains($0) }) { return true }
        let joined = words.joined()
        return secretWords.contains(joined) || joined.hasSuffix("token") || joined.hasSuffix("secret") || joined.hasSuffix("password")
    }
}

extension JobRecord {
    /// The arguments with secret-looking values masked (see `ArgumentRedaction`); nil when the record has none.
    public var redactedArguments: String? { args.map(ArgumentRedaction.redactedArguments) }
}
