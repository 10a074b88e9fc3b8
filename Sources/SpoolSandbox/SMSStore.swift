/// The Twilio side of the sandbox's memory: messages sent, each sender's throughput, requests in flight.
struct SMSStore: Sendable {
    struct Message: Sendable {
        let sid: String
        let accountSid: String
        let to: String
        let from: String
        let body: String
        let segments: Int
        var status: String
        var errorCode: Int?
        let reference: String
        let callbackURL: String?
        let createdMs: Int64
        var updatedMs: Int64
    }

    var messages: [String: Message] = [:]
    var order: [String] = []
    /// Per sender: the theoretical arrival time (GCRA) of the next segment, in unix ms.
    private var senderTAT: [String: Double] = [:]
    var inFlight: [String: Int] = [:]

    /// Takes `segments` from the sender's allowance (GCRA with `burst` extra segments of tolerance).
    /// Returns nil when accepted, or how many ms until it would be.
    mutating func takeThroughput(from sender: String, segments: Int, perSecond rate: Double, burst: Int, nowMs: Int64) -> Int64? {
        let interval = 1000.0 / rate
        let now = Double(nowMs)
        let arrival = max(senderTAT[sender] ?? now, now)
        // A sender allowed more than one segment per millisecond gets them all within that
        // millisecond: this clock cannot tell them apart, and without this it could never reach its
        // rate. At 1,000 per second or less, nothing changes.
        let tolerance = Double(burst) * interval + max(0, 1 - interval)
        if arrival - now > tolerance { return Int64((arrival - tolerance - now).rounded(.up)) }
        senderTAT[sender] = arrival + Double(segments) * interval
        return nil
    }

    /// Segments per second a sender may send: US long codes 1, toll-free numbers 3, short codes 100;
    /// WhatsApp senders 80 messages, Twilio's default for them.
    static func baseRate(of sender: String) -> Double {
        if isWhatsApp(sender) { return 80 }
        if sender.count >= 5, sender.count <= 6, sender.allSatisfy(\.isNumber) { return 100 }
        let tollFree = ["+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888"]
        if tollFree.contains(where: sender.hasPrefix) { return 3 }
        return 1
    }

    /// Twilio's magic test numbers, answered the way Twilio's test credentials answer them.
    static let magicRecipients: [String: (code: Int, message: String)] = [
        "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
        "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
        "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number."),
        "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
        "+15005550009": (21614, "'To' number is not a valid mobile number"),
    ]

    /// How Twilio writes a WhatsApp address: `whatsapp:` and an E.164 number.
    static let whatsAppPrefix = "whatsapp:"

    static func isWhatsApp(_ address: String) -> Bool { address.hasPrefix(whatsAppPrefix) }

    /// The phone number of a `To` or `From` address, without its `whatsapp:` channel.
    static func number(of address: String) -> String {
        isWhatsApp(address) ? String(address.dropFirst(whatsAppPrefix.count)) : address
    }

    /// E.164: a plus, a non-zero country digit, 8 to 15 digits in all.
    static func isE164(_ number: String) -> Bool {
        let digits = number.dropFirst()
        return number.first == "+" && (8...15).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
            && digits.first != "0"
    }
}
