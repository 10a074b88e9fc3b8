/// Phone numbers in E.164 (`+14155550123`), as SMS providers take them.
///
/// Parsing, in order:
/// 1. Spaces, dashes, dots, slashes and parentheses are dropped; any other non-digit is an error.
/// 2. `+` or `00` starts an international number: the country code follows.
/// 3. Anything else is a national number of the default region (`SPOOL_DEFAULT_REGION`, US when
///    unset). In the NANP (US, CA ...) that is 10 digits, or 11 starting with 1. Elsewhere the trunk
///    prefix 0 is dropped and the country code put in front.
/// 4. The result must have 8 to 15 digits. NANP numbers must also have an area code and an exchange
///    that do not start with 0 or 1.
///
/// This is deliberately not a full numbering-plan library: it normalises the formats people type into
/// spreadsheets and refuses what cannot be a phone number, with the reason.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
    public let e164: String
    public var description: String { e164 }

    /// Calling codes of regions a default region may name, with the IANA zone when the whole country
    /// keeps one (nil when it spans several, like the NANP).
    public static let regions: [String: (code: String, zone: String?)] = [
        "US": ("1", nil), "CA": ("1", nil), "GB": ("44", "Europe/London"), "IE": ("353", "Europe/Dublin"),
        "FR": ("33", "Europe/Paris"), "DE": ("49", "Europe/Berlin"), "IT": ("39", "Europe/Rome"), "NL": ("31", "Europe/Amsterdam"),
        "BE": ("32", "Europe/Brussels"), "CH": ("41", "Europe/Zurich"), "AT": ("43", "Europe/Vienna"), "SE": ("46", "Europe/Stockholm"),
        "NO": ("47", "Europe/Oslo"), "DK": ("45", "Europe/Copenhagen"), "FI": ("358", "Europe/Helsinki"), "PL": ("48", "Europe/Warsaw"),
        "JP": ("81", "Asia/Tokyo"), "KR": ("82", "Asia/Seoul"), "IN": ("91", "Asia/Kolkata"), "SG": ("65", "Asia/Singapore"),
        "HK": ("852", "Asia/Hong_Kong"), "IL": ("972", "Asia/Jerusalem"), "ZA": ("27", "Africa/Johannesburg"),
        "CN": ("86", "Asia/Shanghai"),
        "NZ": ("64", nil), "AU": ("61", nil), "ES": ("34", nil), "PT": ("351", nil), "BR": ("55", nil), "MX": ("52", nil),
    ]

    public struct ParseError: Error, Sendable, CustomStringConvertible, Equatable {
        public let message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    public init(e164: String) throws(ParseError) {
        let digits = e164.utf8.dropFirst()
        guard e164.hasPrefix("+"), (8...15).contains(digits.count), digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), digits.first != 48 else {
            throw ParseError(message: "'\(e164.prefix(40))' is not E.164 (+ and 8 to 15 digits)")
        }
        self.e164 = e164
    }

    public init(parsing text: String, defaultRegion: String = "US") throws(ParseError) {
        let quoted = "'\(text.prefix(40))'"
        var digits = ""
        var plus = false
        for (index, character) in text.trimmingSpaces.enumerated() {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if character == "+" && index == 0 {
                plus = true
            } else if " -./()\t".contains(character) {
                continue
            } else {
                throw ParseError(message: "\(quoted) has a character that is not part of a phone number: '\(character)'")
            }
        }
        if digits.isEmpty { throw ParseError(message: "\(quoted) has no digits") }
        var international: String
        if plus {
            international = digits
        } else if digits.hasPrefix("00") {
            international = String(digits.dropFirst(2))
        } else {
            guard let region = Self.regions[defaultRegion.uppercased()] else {
                throw ParseError(
                    message: "default region '\(defaultRegion)' is not one of \(Self.regions.keys.sorted().joined(separator: " "))")
            }
            if region.code == "1" {
                if digits.count == 11 && digits.hasPrefix("1") { digits.removeFirst() }
                guard digits.count == 10 else {
                    throw ParseError(message: "\(quoted) has \(digits.count) digits; a North American number has 10")
                }
                international = "1" + digits
            } else {
                if digits.hasPrefix("0") { digits.removeFirst() }
                international = region.code + digits
            }
        }
        if international.hasPrefix("1") {
            let national = international.dropFirst()
            guard national.count == 10 else {
                throw ParseError(message: "\(quoted) has \(national.count) digits after +1; a North American number has 10")
            }
            let area = national.first!, exchange = national[national.index(national.startIndex, offsetBy: 3)]
            guard area >= "2", exchange >= "2" else {
                throw ParseError(message: "\(quoted): a North American area code and exchange cannot start with 0 or 1")
            }
        }
        try self.init(e164: "+" + international)
    }

    /// The IANA zone of the number's country when the whole country keeps one, else nil.
    public var countryZone: String? {
        let digits = e164.dropFirst()
        for length in 1...3 {
            let code = String(digits.prefix(length))
            if let region = Self.regions.values.first(where: { $0.code == code }) { return region.zone }
        }
        return nil
    }
}
