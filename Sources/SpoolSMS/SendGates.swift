import SpoolSupport

/// The gates every SMS passes before it goes to the provider, in order; the first that does not pass
/// decides:
/// 1. tenant paused → postponed 30 s (event `gate.tenant_paused`); campaign paused → postponed 30 s;
///    campaign cancelled → skipped (`campaign_cancelled`);
/// 2. sender no longer one of the tenant's numbers → skipped (`sender_not_owned`); recipient not
///    E.164 → failed permanently (`invalid_number`);
/// 3. do-not-contact → skipped (`do_not_contact`);
/// 4. a marketing message to a recipient whose consent is not `opted_in` (or who is no contact) →
///    skipped (`no_consent`);
/// 5. quiet hours in the recipient's zones → a marketing message is postponed to the next minute
///    allowed in all of them (event `gate.quiet_hours` with `zone` and `until`);
/// 6. budget: not decided here. `MessageStore.begin` (SpoolStore/SMS/MessageSending.swift,
///    `BudgetLedger`) reserves the cost in the transaction that moves the message queued → sending,
///    under row locks on the tenant's spend: a decision taken apart from that move would let racing
///    workers overspend. Over a cap, the send is postponed to the next day or month (`gate.budget`).
///
/// Gates 4 and 5 are marketing rules: a `transactional` message (a reply, a reminder, the message API's
/// default) skips both. Gates 1 to 3 and 6 hold for every purpose. A campaign's messages are always
/// marketing (`messages_campaign_purpose_check`).
///
/// Pure and synchronous, so that every way an SMS leaves Spool asks the same questions: the caller
/// reads the input (SpoolStore's `MessageContext.gateInput`) and carries out the decision (the event,
/// the skipped or failed row, the job's outcome), as `SendHandler` does.
public struct SendGates: Sendable {
    public var quietHours: QuietHours
    /// How long a paused tenant's or campaign's message waits before it looks again (ms).
    public var pausedRecheck: Int64

    public init(quietHours: QuietHours = QuietHours(), pausedRecheck: Int64 = 30_000) {
        self.quietHours = quietHours
        self.pausedRecheck = pausedRecheck
    }

    public func decide(_ input: GateInput, nowMs: Int64) -> GateDecision {
        if input.tenantPaused {
            return .postpone(until: nowMs + pausedRecheck, reason: "tenant paused", event: .tenantPaused)
        }
        switch input.campaign {
        case .paused?:
            return .postpone(until: nowMs + pausedRecheck, reason: "campaign paused", event: nil)
        case .cancelled?:
            return .skip(reason: .campaignCancelled)
        case .active?, nil:
            break
        }
        // The number may have been removed from the tenant (and given to another) since launch.
        if !input.senderOwned { return .skip(reason: .senderNotOwned) }
        let phone: PhoneNumber
        do { phone = try PhoneNumber(e164: input.to) } catch {
            return .fail(code: .invalidNumber, reason: error.message)
        }
        if input.doNotContact { return .skip(reason: .doNotContact) }
        // Consent and quiet hours are marketing rules: a transactional text is one its recipient waits for.
        guard input.purpose == .marketing else { return .pass(phone: phone) }
        if input.consent != "opted_in" { return .skip(reason: .noConsent) }
        // Quiet hours follow the recipient, never the tenant: the contact's zone, else the number's (area
        // code, prefix, country). A number that may be in several zones waits for their common window.
        let zoneNames = RecipientZones.zones(for: phone, contactZone: input.contactTimezone)
        if let next = quietHours.nextAllowed(nowMs: nowMs, zones: zoneNames.compactMap(ZoneInfo.named)) {
            let zone = zoneNames.joined(separator: ",")
            return .postpone(until: next, reason: "quiet hours in \(zone)", event: .quietHours(zone: zone, until: next))
        }
        return .pass(phone: phone)
    }
}

/// What the gates look at, for one message. The initializer has no defaults on purpose: a field a
/// caller forgot must not pass a gate silently.
public struct GateInput: Sendable, Equatable {
    /// A campaign's status as the gates read it; draft, running and completed all let a message through.
    public enum Campaign: Sendable, Equatable {
        case active, paused, cancelled
    }

    public var tenantPaused: Bool
    /// nil for a message outside any campaign.
    public var campaign: Campaign?
    /// Marketing passes every gate; transactional skips consent and quiet hours.
    public var purpose: MessagePurpose
    /// The sender is one of the message's tenant's numbers now.
    public var senderOwned: Bool
    /// The recipient as stored; the gates check that it is E.164.
    public var to: String
    public var doNotContact: Bool
    /// The contact's consent (`opted_in`, `opted_out`, `unknown`); nil without a contact.
    public var consent: String?
    /// The contact's own IANA zone, which wins over the number's when the system knows it.
    public var contactTimezone: String?

    public init(
        tenantPaused: Bool, campaign: Campaign?, purpose: MessagePurpose, senderOwned: Bool, to: String, doNotContact: Bool,
        consent: String?, contactTimezone: String?
    ) {
        self.tenantPaused = tenantPaused
        self.campaign = campaign
        self.purpose = purpose
        self.senderOwned = senderOwned
        self.to = to
        self.doNotContact = doNotContact
        self.consent = consent
        self.contactTimezone = contactTimezone
    }
}

/// The gates' answer for one message.
public enum GateDecision: Sendable, Equatable {
    /// Every gate decided here lets it through; the budget (gate 6) is still to come.
    case pass(phone: PhoneNumber)
    /// Not now: look again at `until` (unix ms). `event`, when there is one, goes on the message's record.
    case postpone(until: Int64, reason: String, event: GateEvent?)
    /// Never: the message is skipped with this reason.
    case skip(reason: SkipReason)
    /// Never, and an error: the message fails with this code and the job is dead.
    case fail(code: FailureCode, reason: String)
}

/// Why a message was skipped; the raw values are `messages.reason` and what reports count.
public enum SkipReason: String, Sendable, CaseIterable {
    case campaignCancelled = "campaign_cancelled"
    case senderNotOwned = "sender_not_owned"
    case doNotContact = "do_not_contact"
    case noConsent = "no_consent"
}

/// Why a message failed at the gates; the raw value goes to `messages.provider_error_code`, beside
/// the provider's own codes.
public enum FailureCode: String, Sendable, CaseIterable {
    case invalidNumber = "invalid_number"
}

/// An event a postponing gate records.
public enum GateEvent: Sendable, Equatable {
    case tenantPaused
    case quietHours(zone: String, until: Int64)

    /// `events.kind`.
    public var kind: String {
        switch self {
        case .tenantPaused: "gate.tenant_paused"
        case .quietHours: "gate.quiet_hours"
        }
    }

    /// `events.payload`.
    public var payload: JSONValue {
        switch self {
        case .tenantPaused: .object([:])
        case .quietHours(let zone, let until): .object(["zone": .string(zone), "until": .number(Double(until))])
        }
    }
}
