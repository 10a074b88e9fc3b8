import SpoolSupport

/// One limit as it applies to one job: the key filled in from the job, the spec in force for it (a
/// run-time setting or the declaration), and what the job costs.
struct LimitClaim: Sendable, Equatable {
    let key: String
    let template: String
    let spec: LimitSpec
    let cost: Int
    /// The declaration's `name`, when it has one.
    var name: String? = nil

    /// How fast jobs waiting for this limiter are handed back (ms per job): a rate's own pace; a
    /// quota's waiting jobs all at once when its window turns; a concurrency limiter's one at a time,
    /// as slots are given back (release_limited.lua). Fractions of a millisecond matter: a limit of
    /// 10,000 per second releases 10 jobs per millisecond.
    var releasePace: Double { Self.releasePace(spec) }

    static func releasePace(_ spec: LimitSpec) -> Double {
        switch spec {
        case .rate: return max(spec.pace, 0.001)
        case .concurrency: return 0
        case .quota: return 1
        }
    }
}

extension JobKindSpec {
    /// The job's claims in declaration order, or why they cannot be made (the job is then malformed).
    func claims(for job: Job, overrides: LimitOverrides) -> Result<[LimitClaim], LimitKeyError> {
        if limits.isEmpty { return .success([]) }
        // Most keys name an argument; those that do not (`tenant:{tenant}`) spare the parse, a hot path.
        var args = JSONValue.object([:])
        if let parsed = job.parsedArgs {
            args = parsed
        } else if limits.contains(where: { $0.needsArguments }) {
            guard let parsed = try? JSONValue.parse(job.args) else {
                return .failure(LimitKeyError(message: "args are not valid JSON, so the limit keys cannot be filled in"))
            }
            args = parsed
        }
        var claims: [LimitClaim] = []
        for limit in limits {
            let key: String
            switch limit.key.render(job: job, args: args) {
            case .success(let rendered): key = rendered
            case .failure(let error): return .failure(error)
            }
            var cost = 1
            if case .fixed(let units) = limit.cost { cost = units }
            if case .argument(let name) = limit.cost {
                let most = min(
                    arguments.fields[name]?.maximum.map { Int($0) } ?? LimitDeclaration.maximumCost, LimitDeclaration.maximumCost)
                guard let units = args[name]?.intValue, units >= 1, units <= most else {
                    return .failure(
                        LimitKeyError(
                            message:
                                "limit '\(limit.key.text)' costs args.\(name), which must be an integer in 1...\(most), got \(args[name]?.text ?? "nothing")"
                        ))
                }
                cost = units
            }
            let spec = overrides.spec(key: key, template: limit.key.text, declared: limit.spec)
            // A rate lets a cost above its burst pass alone; a window can never hold more than its units.
            if case .quota(let units, _) = spec, cost > units {
                return .failure(
                    LimitKeyError(message: "limit '\(key)' allows \(units) units per window and this job costs \(cost): it could never run")
                )
            }
            claims.append(LimitClaim(key: key, template: limit.key.text, spec: spec, cost: cost, name: limit.name))
        }
        return .success(claims)
    }
}
