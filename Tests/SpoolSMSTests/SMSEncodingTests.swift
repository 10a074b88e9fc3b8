import SpoolSMS
import Testing

/// Segment counting, a pure function: what carriers bill and what sender limits count.
@Suite struct SMSEncodingTests {
    @Test func smsSegmentsFollowGSM7AndUCS2() {
        #expect(SMSEncoding(body: String(repeating: "a", count: 160)) == SMSEncoding(body: String(repeating: "b", count: 160)))
        #expect(SMSEncoding(body: String(repeating: "a", count: 160)).segments == 1)
        #expect(SMSEncoding(body: String(repeating: "a", count: 161)).segments == 2)
        #expect(SMSEncoding(body: String(repeating: "a", count: 306)).segments == 2)
        #expect(SMSEncoding(body: String(repeating: "a", count: 307)).segments == 3)
        #expect(SMSEncoding(body: String(repeating: "{", count: 80)).units == 160)  // extension characters take two septets
        #expect(SMSEncoding(body: String(repeating: "{", count: 81)).segments == 2)
        let emoji = SMSEncoding(body: "Hi 👋")
        #expect(emoji.scheme == .ucs2 && emoji.units == 5 && emoji.segments == 1)
        #expect(SMSEncoding(body: String(repeating: "é", count: 70)).scheme == .gsm7)
        #expect(SMSEncoding(body: String(repeating: "ж", count: 70)).segments == 1)
        #expect(SMSEncoding(body: String(repeating: "ж", count: 71)).segments == 2)
        #expect(SMSEncoding(body: String(repeating: "ж", count: 135)).segments == 3)
    }
}
