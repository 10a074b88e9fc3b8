import SpoolSMS
import SpoolSupport
import Testing

/// Each gate's decision, and their order: the first gate that does not pass decides, whatever the
/// later ones would have said. Fixed instants and the system's zones, never the wall clock.
@Suite struct SendGatesTests {
    let gates = SendGates()

    // 2026-11-23 is a Monday in standard time: New York UTC-5, Denver UTC-7, Los Angeles UTC-8.
    static let threeInNewYork: Int64 = 1_795_420_800_000  // 08:00 UTC
    static let eightInNewYork: Int64 = 1_795_438_800_000  // 13:00 UTC
    static let eightInDenver: Int64 = 1_795_446_000_000  // 15:00 UTC, 09:00 in North Dakota's Center
    static let elevenInNewYork: Int64 = 1_795_449_600_000  // 16:00 UTC, 08:00 in Los Angeles

    /// A campaign's message that every gate lets through in New York's day.
    func input(
        tenantPaused: Bool = false, campaign: GateInput.Campaign? = .active, purpose: MessagePurpose = .marketing,
        senderOwned: Bool = true, to: String = "+12125550123", doNotContact: Bool = false, consent: String? = "opted_in",
        contactTimezone: String? = nil
    ) -> GateInput {
        GateInput(
            tenantPaused: tenantPaused, campaign: campaign, purpose: purpose, senderOwned: senderOwned, to: to,
            doNotContact: doNotContact, consent: consent, contactTimezone: contactTimezone)
    }

    /// A one-off transactional message (a reply, a reminder) to someone who is no contact.
    func transactional(
        tenantPaused: Bool = false, senderOwned: Bool = true, to: String = "+12125550123", doNotContact: Bool = false,
        consent: String? = nil
    ) -> GateInput {
        input(
            tenantPaused: tenantPaused, campaign: nil, purpose: .transactional, senderOwned: senderOwned, to: to,
            doNotContact: doNotContact, consent: consent)
    }

    @Test func aMessageEveryGateAllowsPassesWithItsNumber() throws {
        let phone = try PhoneNumber(e164: "+12125550123")
        #expect(gates.decide(input(), nowMs: Self.elevenInNewYork) == .pass(phone: phone))
        // 08:00 in Los Angeles is the window's first minute.
        let california = try PhoneNumber(e164: "+14155550123")
        #expect(gates.decide(input(to: "+14155550123"), nowMs: Self.elevenInNewYork) == .pass(phone: california))
    }

    @Test func aPausedTenantWaitsThirtySecondsWithAnEvent() {
        let now = Self.elevenInNewYork
        #expect(
            gates.decide(input(tenantPaused: true), nowMs: now)
                == .postpone(until: now + 30_000, reason: "tenant paused", event: .tenantPaused))
        // Before everything else: a cancelled campaign, a bad number, an opt-out, the night.
        let worst = input(tenantPaused: true, campaign: .cancelled, senderOwned: false, to: "+0123", doNotContact: true, consent: nil)
        #expect(
            gates.decide(worst, nowMs: Self.threeInNewYork)
                == .postpone(until: Self.threeInNewYork + 30_000, reason: "tenant paused", event: .tenantPaused))
        #expect(
            SendGates(pausedRecheck: 5_000).decide(input(tenantPaused: true), nowMs: now)
                == .postpone(until: now + 5_000, reason: "tenant paused", event: .tenantPaused))
    }

    @Test func aPausedCampaignWaitsWithoutAnEvent() {
        let now = Self.elevenInNewYork
        #expect(
            gates.decide(input(campaign: .paused, doNotContact: true), nowMs: now)
                == .postpone(until: now + 30_000, reason: "campaign paused", event: nil))
    }

    @Test func aCancelledCampaignSkipsBeforeAnyOtherReason() {
        #expect(gates.decide(input(campaign: .cancelled), nowMs: Self.elevenInNewYork) == .skip(reason: .campaignCancelled))
        // A do-not-contact number in a cancelled campaign is skipped as cancelled.
        #expect(
            gates.decide(input(campaign: .cancelled, doNotContact: true), nowMs: Self.elevenInNewYork) == .skip(reason: .campaignCancelled))
        #expect(
            gates.decide(input(campaign: .cancelled, senderOwned: false, to: "+0123"), nowMs: Self.threeInNewYork)
                == .skip(reason: .campaignCancelled))
    }

    @Test func aSenderNoLongerTheTenantsSkipsBeforeTheNumberIsChecked() {
        #expect(gates.decide(input(senderOwned: false), nowMs: Self.elevenInNewYork) == .skip(reason: .senderNotOwned))
        #expect(
            gates.decide(input(senderOwned: false, to: "+0123", doNotContact: true), nowMs: Self.elevenInNewYork)
                == .skip(reason: .senderNotOwned))
    }

    @Test func aNumberThatIsNotE164FailsBeforeDoNotContactAndConsent() {
        let decision = gates.decide(input(to: "+0123", doNotContact: true, consent: nil), nowMs: Self.elevenInNewYork)
        #expect(decision == .fail(code: .invalidNumber, reason: "'+0123' is not E.164 (+ and 8 to 15 digits)"))
        #expect(
            gates.decide(input(to: "4155550123"), nowMs: Self.elevenInNewYork)
                == .fail(code: .invalidNumber, reason: "'4155550123' is not E.164 (+ and 8 to 15 digits)"))
    }

    @Test func doNotContactSkipsBeforeConsentAndQuietHours() {
        #expect(gates.decide(input(doNotContact: true), nowMs: Self.elevenInNewYork) == .skip(reason: .doNotContact))
        #expect(gates.decide(input(doNotContact: true, consent: "opted_out"), nowMs: Self.threeInNewYork) == .skip(reason: .doNotContact))
        // One-off messages too, whatever their purpose: do-not-contact is not a marketing rule.
        #expect(
            gates.decide(input(campaign: nil, doNotContact: true, consent: nil), nowMs: Self.elevenInNewYork)
                == .skip(reason: .doNotContact))
        for now in [Self.elevenInNewYork, Self.threeInNewYork] {
            #expect(gates.decide(transactional(doNotContact: true), nowMs: now) == .skip(reason: .doNotContact))
            #expect(
                gates.decide(transactional(doNotContact: true, consent: "opted_in"), nowMs: now) == .skip(reason: .doNotContact))
        }
    }

    @Test func aMarketingMessageNeedsConsentOptedIn() throws {
        let phone = try PhoneNumber(e164: "+12125550123")
        for consent in ["opted_out", "unknown", nil] as [String?] {
            #expect(
                gates.decide(input(consent: consent), nowMs: Self.elevenInNewYork) == .skip(reason: .noConsent),
                "consent \(consent ?? "nil")")
            // Skipped at night too: consent comes before quiet hours.
            #expect(gates.decide(input(consent: consent), nowMs: Self.threeInNewYork) == .skip(reason: .noConsent))
        }
        // Consent follows the purpose, not the campaign: a marketing message outside any campaign needs
        // it too, and a transactional one does not.
        #expect(gates.decide(input(campaign: nil, consent: nil), nowMs: Self.elevenInNewYork) == .skip(reason: .noConsent))
        #expect(gates.decide(input(campaign: nil, consent: "unknown"), nowMs: Self.elevenInNewYork) == .skip(reason: .noConsent))
        #expect(gates.decide(input(campaign: nil, consent: "opted_in"), nowMs: Self.elevenInNewYork) == .pass(phone: phone))
        for consent in ["opted_out", "unknown", nil] as [String?] {
            #expect(gates.decide(transactional(consent: consent), nowMs: Self.elevenInNewYork) == .pass(phone: phone))
        }
    }

    @Test func quietHoursPostponeToEightInTheMorningInTheNumbersZone() throws {
        let phone = try PhoneNumber(e164: "+12125550123")
        // 03:00 in New York; half a minute in, the next allowed minute is still 08:00 sharp.
        for now in [Self.threeInNewYork, Self.threeInNewYork + 30_000] {
            #expect(
                gates.decide(input(), nowMs: now)
                    == .postpone(
                        until: Self.eightInNewYork, reason: "quiet hours in America/New_York",
                        event: .quietHours(zone: "America/New_York", until: Self.eightInNewYork)))
        }
        #expect(gates.decide(input(), nowMs: Self.eightInNewYork) == .pass(phone: phone))
        // A marketing message outside a campaign waits for the morning too.
        #expect(
            gates.decide(input(campaign: nil), nowMs: Self.threeInNewYork)
                == .postpone(
                    until: Self.eightInNewYork, reason: "quiet hours in America/New_York",
                    event: .quietHours(zone: "America/New_York", until: Self.eightInNewYork)))
    }

    /// Transactional messages skip the two marketing gates, consent and quiet hours, and nothing else.
    @Test func aTransactionalMessageSkipsConsentAndQuietHoursOnly() throws {
        let phone = try PhoneNumber(e164: "+12125550123")
        // 03:00 in New York, to someone who is no contact: it goes now.
        #expect(gates.decide(transactional(), nowMs: Self.threeInNewYork) == .pass(phone: phone))
        #expect(gates.decide(transactional(consent: "unknown"), nowMs: Self.threeInNewYork) == .pass(phone: phone))
        // A contact's own zone is no reason to wait either.
        var night = transactional()
        night.contactTimezone = "America/New_York"
        #expect(gates.decide(night, nowMs: Self.threeInNewYork) == .pass(phone: phone))
        // Every other gate still holds.
        #expect(
            gates.decide(transactional(tenantPaused: true), nowMs: Self.threeInNewYork)
                == .postpone(until: Self.threeInNewYork + 30_000, reason: "tenant paused", event: .tenantPaused))
        #expect(gates.decide(transactional(senderOwned: false), nowMs: Self.threeInNewYork) == .skip(reason: .senderNotOwned))
        #expect(
            gates.decide(transactional(to: "+0123"), nowMs: Self.threeInNewYork)
                == .fail(code: .invalidNumber, reason: "'+0123' is not E.164 (+ and 8 to 15 digits)"))
        #expect(gates.decide(transactional(doNotContact: true), nowMs: Self.threeInNewYork) == .skip(reason: .doNotContact))
    }

    @Test func purposesKeepTheirStoredNames() {
        #expect(MessagePurpose.allCases.map(\.rawValue) == ["marketing", "transactional"])
    }

    @Test func theContactsZoneWinsOverTheNumbers() {
        // A California number whose contact lives in New York: New York's night decides, not California's.
        #expect(
            gates.decide(input(to: "+14155550123", contactTimezone: "America/New_York"), nowMs: Self.threeInNewYork)
                == .postpone(
                    until: Self.eightInNewYork, reason: "quiet hours in America/New_York",
                    event: .quietHours(zone: "America/New_York", until: Self.eightInNewYork)))
        // A zone the system does not know is ignored: the number's zone decides (05:00 in Los Angeles at 13:00 UTC).
        guard
            case .postpone(_, let reason, _) = gates.decide(
                input(to: "+14155550123", contactTimezone: "Mars/Olympus_Mons"), nowMs: Self.eightInNewYork)
        else { Issue.record("05:00 in Los Angeles must wait"); return }
        #expect(reason == "quiet hours in America/Los_Angeles")
    }

    @Test func aNumberAcrossAZoneLineWaitsForTheCommonWindow() {
        // South Dakota's 605: 01:00 in Denver and 02:00 in North Dakota's Center; both allow 08:00 Denver.
        let zone = "America/Denver,America/North_Dakota/Center"
        #expect(
            gates.decide(input(to: "+16055550123"), nowMs: Self.threeInNewYork)
                == .postpone(
                    until: Self.eightInDenver, reason: "quiet hours in \(zone)", event: .quietHours(zone: zone, until: Self.eightInDenver)))
    }

    @Test func eventsAndReasonsKeepTheirStoredNames() {
        #expect(GateEvent.tenantPaused.kind == "gate.tenant_paused")
        #expect(GateEvent.tenantPaused.payload == .object([:]))
        let quiet = GateEvent.quietHours(zone: "America/New_York", until: Self.eightInNewYork)
        #expect(quiet.kind == "gate.quiet_hours")
        #expect(quiet.payload == .object(["zone": .string("America/New_York"), "until": .number(Double(Self.eightInNewYork))]))
        #expect(SkipReason.allCases.map(\.rawValue) == ["campaign_cancelled", "sender_not_owned", "do_not_contact", "no_consent"])
        #expect(FailureCode.invalidNumber.rawValue == "invalid_number")
    }
}
