import SpoolSupport

/// The IANA time zones a text's recipient may be in, for quiet hours.
///
/// The contact's own zone wins when it names a zone of the system's zoneinfo. Otherwise the number
/// decides: the longest prefix of its digits (country code first) in `Resources/phone_zones.tsv`,
/// libphonenumber's time-zone map as written by `scripts/generate-phone-zones.py`. +1 numbers resolve
/// by area code (or exchange, where an area code straddles a zone line); elsewhere by whatever prefixes
/// the map knows, down to the country code, whose entry lists all of the country's zones. A number
/// may thus get several zones; quiet hours then allow only the minutes allowed in all of them
/// (`QuietHours.nextAllowed(nowMs:zones:)`). The sender's (tenant's) zone is never a guess at the
/// recipient's.
public enum RecipientZones {
    /// The table row a number's digits matched: the prefix and its zones.
    public struct Match: Sendable, Equatable {
        public let prefix: String
        public let zones: [String]
    }

    /// The zone used when the table knows nothing of the number: its country code is in no entry.
    /// The table covers every country code with a geographic numbering plan, so this is left to the
    /// global services (+800 freephone, +870/+881 satellite phones, +882/+883 international networks
    /// ...) and unassigned codes: a recipient who may be anywhere on earth has no zone whose
    /// intersection we could take (all zones together share no minute), so UTC it is, as documented.
    public static let unknownZone = "UTC"

    /// The candidate zones of `phone`'s recipient, never empty: `[contactZone]` when it is a zone the
    /// system knows, else the zones of the number's longest prefix in the table, else `[unknownZone]`.
    public static func zones(for phone: PhoneNumber, contactZone: String? = nil) -> [String] {
        if let contactZone, ZoneInfo.named(contactZone) != nil { return [contactZone] }
        return match(digits: phone.e164.dropFirst())?.zones ?? [unknownZone]
    }

    /// The longest prefix of `digits` (a number's digits after `+`) in the table, or nil when none is.
    public static func match(digits: some StringProtocol) -> Match? {
        let digits = String(digits)
        for length in stride(from: min(digits.count, table.longest), through: 1, by: -1) {
            let prefix = String(digits.prefix(length))
            if let zones = table.zones[prefix] { return Match(prefix: prefix, zones: zones) }
        }
        return nil
    }

    /// Number of prefixes in the table.
    public static var count: Int { table.zones.count }

    /// Parsed on first use (a `static let` is initialised lazily, once, thread-safely).
    private static let table = parse(String(decoding: PackageResources.phone_zones_tsv, as: UTF8.self))

    /// `#` comment lines, blank lines, and `prefix<TAB>zone,zone...` lines.
    static func parse(_ text: String) -> (zones: [String: [String]], longest: Int) {
        var zones: [String: [String]] = [:]
        var longest = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, fields[0].allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
            let names = fields[1].split(separator: ",").map(\.trimmingSpaces).filter { !$0.isEmpty }
            guard !names.isEmpty else { continue }
            zones[String(fields[0])] = names
            longest = max(longest, fields[0].count)
        }
        return (zones, longest)
    }
}
