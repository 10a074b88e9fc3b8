import SpoolSupport

/// The OAuth `state` of a calendar connect: which tenant connects which calendar, until when, signed
/// with HMAC-SHA256. The provider hands it back to the callback unchanged, so the callback needs no
/// session or stored row to know whose connection it is making, and a state forged, altered or older
/// than ten minutes is refused.
///
/// Its text is `<payload hex>.<signature hex>`, the payload `spool-calendar-state-v1`, the tenant id, the
/// calendar id and the expiry (unix ms), one per line (neither id may hold a line break). Hex keeps it
/// safe in a query string without escaping. The key is the OAuth client's secret, which only this
/// deployment and the provider know; the provider never checks the state.
struct CalendarConnectState: Sendable, Equatable {
    let tenantID: String
    let calendarID: String
    let expiresAtMs: Int64

    /// How long a person has to get through the consent page.
    static let lifetimeMs: Int64 = 600_000
    static let version = "spool-calendar-state-v1"

    func signed(key: String) -> String {
        let payload = Array([Self.version, tenantID, calendarID, String(expiresAtMs)].joined(separator: "\n").utf8)
        return Hashing.hex(payload) + "." + Hashing.hex(Hashing.hmacSHA256(key: Array(key.utf8), message: payload))
    }

    /// The state `text` carries, when its signature is good and it has not expired; else a 400
    /// `invalid_state` saying which.
    static func verify(_ text: String, key: String, nowMs: Int64) throws(APIError) -> CalendarConnectState {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = bytes(hex: parts[0]), let signature = bytes(hex: parts[1]) else {
            throw invalid("state: not a state this API made")
        }
        guard Hashing.constantTimeEqual(signature, Hashing.hmacSHA256(key: Array(key.utf8), message: payload)) else {
            throw invalid("state: the signature does not match; start again at GET /v1/calendars/connect")
        }
        let lines = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 4, lines[0] == Self.version, !lines[1].isEmpty, !lines[2].isEmpty, let expires = Int64(lines[3]) else {
            throw invalid("state: not a state this API made")
        }
        guard nowMs < expires else {
            throw invalid("state: expired \((nowMs - expires) / 1000) s ago; start again at GET /v1/calendars/connect")
        }
        return CalendarConnectState(tenantID: String(lines[1]), calendarID: String(lines[2]), expiresAtMs: expires)
    }

    private static func invalid(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_state", message: message, field: "state")
    }

    /// Lowercase or uppercase hex as bytes; nil for an odd length or another character.
    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
