/// How many segments an SMS body takes, which is what carriers bill and what sender limits count.
///
/// A body of GSM 03.38 characters travels as 7-bit septets: 160 in one segment, 153 per segment when
/// split (the rest carries the concatenation header). The extension characters (`^{}\[~]|€` and form
/// feed) take two septets each. Anything else forces UCS-2: 70 UTF-16 units in one segment, 67 when split.
public struct SMSEncoding: Sendable, Equatable {
    public enum Scheme: String, Sendable { case gsm7 = "GSM-7", ucs2 = "UCS-2" }

    public let scheme: Scheme
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    public let units: Int
    public let segments: Int
    /// The most segments one message may take: Twilio refuses longer bodies (1,600 characters), and
    /// `Jobs/send.json` bounds the cost a send books on its sender's limiter by it.
    public static let maximumSegments = 10

    public init(body: String) {
        var septets = 0
        var gsm = true
        for scalar in body.unicodeScalars {
            if Self.basic.contains(scalar) {
                septets += 1
            } else if Self.extended.contains(scalar) {
                septets += 2
            } else {
                gsm = false; break
            }
        }
        if gsm {
            scheme = .gsm7
            units = septets
            segments = septets <= 160 ? 1 : (septets + 152) / 153
        } else {
            scheme = .ucs2
            units = body.utf16.count
            segments = units <= 70 ? 1 : (units + 66) / 67
        }
    }

    private static let basic: Set<Unicode.Scalar> = Set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
            .unicodeScalars)
    private static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)
}
