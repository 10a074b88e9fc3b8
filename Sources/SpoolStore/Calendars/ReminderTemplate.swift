import SpoolSupport

/// A tenant's reminder text (`tenants.reminder_template`): a `MessageTemplate` over a fixed set of
/// variables, checked when it is set, so that a typo is an error for the tenant then rather than a gap
/// in every reminder later.
///
/// - `{{first_name}}`: the contact's first name; empty when the appointment has no known contact.
/// - `{{summary}}`: the event's title; "your appointment" when it has none.
/// - `{{date}}` and `{{time}}`: the start in the recipient's zone, `Thursday, December 3` and `09:30`.
/// - `{{business_name}}`: the tenant's name.
public enum ReminderTemplate {
    public static let variables: Set<String> = ["first_name", "summary", "date", "time", "business_name"]
    public static let maximumCharacters = 1000
    /// `tenants.reminder_template`'s default (migration 0017 says the same).
    public static let defaultText = "Reminder from {{business_name}}: {{summary}} on {{date}} at {{time}}."
    /// Said for `{{summary}}` when the event has no title.
    public static let untitled = "your appointment"
    /// The most characters a value brings into the text: an event's title can be long, and the text is
    /// one SMS, not the event's description.
    static let maximumValueCharacters = 120

    /// What a reminder says about its appointment.
    public struct Values: Sendable {
        public var firstName: String?
        public var summary: String?
        /// The start, unix ms, shown in `zone`.
        public var startsAtMs: Int64
        public var zone: ZoneInfo
        public var businessName: String

        public init(firstName: String?, summary: String?, startsAtMs: Int64, zone: ZoneInfo, businessName: String) {
            self.firstName = firstName
            self.summary = summary
            self.startsAtMs = startsAtMs
            self.zone = zone
            self.businessName = businessName
        }
    }

    /// Why `template` cannot be a reminder text, naming the variable or the problem (the field,
    /// `reminder_template`, is the caller's to name); nil when it can.
    public static func problem(_ template: String) -> String? {
        MessageTemplate.problem(template, variables: variables, maximumCharacters: maximumCharacters, what: "a reminder variable")
    }

    /// The text with its variables filled in. A template that no longer parses (it is checked when set)
    /// is sent as it is rather than not at all.
    public static func render(_ template: String, _ values: Values) -> String {
        let local = CivilTime(unixMillis: values.startsAtMs + Int64(values.zone.offset(at: values.startsAtMs / 1000)) * 1000)
        let summary = values.summary.map(\.trimmingSpaces).flatMap { $0.isEmpty ? nil : $0 } ?? untitled
        let filled = [
            "first_name": clipped(values.firstName?.trimmingSpaces ?? ""), "summary": clipped(summary),
            "date": "\(weekdays[local.weekday]), \(months[local.month - 1]) \(local.day)",
            "time": "\(CivilTime.pad(local.hour)):\(CivilTime.pad(local.minute))", "business_name": clipped(values.businessName),
        ]
        guard let parsed = try? MessageTemplate(template) else { return template }
        return parsed.render(filled)
    }

    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
    ]

    /// `text` cut to `maximumValueCharacters`, with "..." when cut; line breaks become spaces.
    static func clipped(_ text: String) -> String {
        let flat = text.contains(where: \.isNewline) ? String(text.map { $0.isNewline ? " " : $0 }) : text
        guard flat.unicodeScalars.count > maximumValueCharacters else { return flat }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: flat.unicodeScalars.prefix(maximumValueCharacters - 3))
        return String(scalars) + "..."
    }
}
