/// Local wall-clock times and the instants that read them, from `ZoneInfo.offset(at:)` alone.
///
/// A local time is counted in seconds as if it were UTC (`2026-03-08 02:30` local is the unix
/// second of `2026-03-08T02:30:00Z`). The instants reading it are `local - offset` for an offset the
/// zone has at that instant: one instant normally, two when the clocks go back over it, none when
/// they jump past it.
enum LocalTimeResolution: Sendable, Equatable {
    /// Read once, at this unix second.
    case unique(Int64)
    /// Read twice (the clocks went back): at `first`, and an offset change later at `second`.
    case repeated(first: Int64, second: Int64)
    /// Never read (the clocks jumped over it): `resume` is the instant of the jump, the first one
    /// after the gap.
    case skipped(resume: Int64)
}

extension ZoneInfo {
    /// The instants reading `local` (seconds of local wall-clock time counted as if UTC).
    ///
    /// The candidates are the offsets a day before and a day after: every offset is within a day
    /// of UTC, so the instants reading `local` lie between those two, and zones change offset at
    /// most once in two days.
    func resolve(local: Int64) -> LocalTimeResolution {
        let before = Int64(offset(at: local - 86_400))
        let after = Int64(offset(at: local + 86_400))
        let early = local - before, late = local - after
        let earlyReads = Int64(offset(at: early)) == before
        let lateReads = Int64(offset(at: late)) == after
        if earlyReads && lateReads && early != late { return .repeated(first: min(early, late), second: max(early, late)) }
        if earlyReads { return .unique(early) }
        if lateReads { return .unique(late) }
        // A gap: the clocks jumped from `before` to `after` somewhere between the two readings.
        return .skipped(resume: firstChange(after: min(early, late), through: max(early, late)))
    }

    /// The first unix second in `start + 1 ... end` whose offset differs from the one at `start`
    /// (`end` when the offset at `end` is the same): the instant of a change known to lie there.
    func firstChange(after start: Int64, through end: Int64) -> Int64 {
        let initial = offset(at: start)
        var low = start, high = end
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == initial { low = middle } else { high = middle }
        }
        return high
    }
}
