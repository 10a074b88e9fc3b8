import SpoolQueue
import SpoolSupport

/// One declared limit template's form on the limits page: the declaration, the setting in force, and
/// inputs shaped by the kind of limit in force (units, period and burst for a rate; a number at once
/// for concurrency; units and a calendar window for a quota), filled with the values in force, or,
/// after a refused post, with the values as posted and the refusal, its field marked.
struct DashboardLimitForm: Sendable {
    struct Period: Sendable {
        let name: String
        let selected: Bool
    }

    /// A post the page shows again: its fields as given and why it was refused.
    struct Refused: Sendable {
        let form: DashboardForm
        let refusal: LimitChange.Refusal
    }

    let template: String
    /// The kinds that declare it, e.g. "send, reminder".
    let kinds: String
    let declared: String
    let inForce: String
    let overridden: Bool
    let isRate: Bool
    let isConcurrency: Bool
    let isQuota: Bool
    let rate: String
    let burst: String
    let concurrency: String
    let quota: String
    let periods: [Period]
    let setForm: DashboardFormAction
    /// Back to the declaration; only while a run-time setting is in force.
    let clearForm: DashboardFormAction?
    /// The refusal of the last post to this form, naming its field.
    let problem: String?
    let rateInvalid: Bool
    let perInvalid: Bool
    let burstInvalid: Bool
    let concurrencyInvalid: Bool
    let quotaInvalid: Bool

    init(template: String, kinds: [String], declared: LimitSpec, runTime: LimitSpec?, visit: DashboardVisit, refused: Refused?) {
        let spec = runTime ?? declared
        self.template = template
        self.kinds = kinds.joined(separator: ", ")
        self.declared = declared.summary
        inForce = spec.summary
        overridden = runTime != nil
        setForm = visit.formAction(DashboardLimits.setPath)
        clearForm = runTime == nil ? nil : visit.formAction(DashboardLimits.clearPath)

        var values: [String: String] = [:]
        var periodNames = LimitSpec.periods.map(\.name)
        switch spec {
        case .rate(let units, let period, let burst):
            isRate = true
            isConcurrency = false
            isQuota = false
            values = ["rate": String(units), "burst": String(burst), "per": Self.name(of: period)]
        case .concurrency(let max):
            isRate = false
            isConcurrency = true
            isQuota = false
            values = ["concurrency": String(max)]
        case .quota(let units, let window):
            isRate = false
            isConcurrency = false
            isQuota = true
            values = ["quota": String(units), "per": Self.name(of: window)]
            // A quota counts calendar windows of a minute or more.
            periodNames.removeFirst()
        }
        if let refused {
            // What was posted, so that the operator corrects it rather than types it again.
            for name in LimitChange.specFields { values[name] = refused.form[name].map { String($0.trimmingSpaces.prefix(40)) } }
        }
        rate = values["rate"] ?? ""
        burst = values["burst"] ?? ""
        concurrency = values["concurrency"] ?? ""
        quota = values["quota"] ?? ""
        let per = values["per"] ?? ""
        periods = periodNames.map { Period(name: $0, selected: $0 == per) }

        let field = refused?.refusal.field
        problem = refused?.refusal.message
        rateInvalid = field == "rate"
        perInvalid = field == "per"
        burstInvalid = field == "burst"
        concurrencyInvalid = field == "concurrency"
        quotaInvalid = field == "quota"
    }

    /// `second`, `minute`, `hour` or `day`, as the form's choices and `LimitSpec.parse` name them.
    static func name(of period: Duration) -> String {
        LimitSpec.periods.first { $0.duration == period }?.name ?? ""
    }

    /// The JSON object `LimitChange.parse` reads, from a posted form: the key as given, each limit
    /// field given and not blank, a whole number as a number and anything else as text, which the
    /// parser refuses naming the field (as `PUT /v1/limits` refuses `"rate": "abc"`).
    static func object(_ form: DashboardForm) -> JSONValue {
        var object: [String: JSONValue] = [:]
        if let key = form["key"] { object["key"] = .string(key) }
        for name in LimitChange.specFields {
            guard let text = form[name]?.trimmingSpaces, !text.isEmpty else { continue }
            if name != "per", let number = Int(text) {
                object[name] = .number(Double(number))
            } else {
                object[name] = .string(String(text.prefix(40)))
            }
        }
        return .object(object)
    }
}
