/// A time as the job and worker pages print it: relative to now ("3 min ago", "in 45 s"), with the
/// exact UTC time (RFC 3339) for the `datetime` and `title` attributes:
/// `<time datetime="{{exact}}" title="{{exact}}">{{relative}}</time>`.
struct DashboardMoment: Sendable, Equatable {
    let exact: String
    let relative: String

    /// `ms` in unix milliseconds, seen at `now`.
    init(_ ms: Int64, now: Int64) {
        exact = RFC3339.format(ms)
        let distance = DashboardFormat.age(seconds: Double(ms > now ? ms - now : now - ms) / 1000)
        relative = ms > now ? "in " + distance : distance + " ago"
    }

    /// Nil stays nil: a time the record does not have.
    static func at(_ ms: Int64?, now: Int64) -> DashboardMoment? {
        ms.map { DashboardMoment($0, now: now) }
    }
}
