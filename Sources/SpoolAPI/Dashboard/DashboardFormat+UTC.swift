import SpoolSupport

extension DashboardFormat {
    /// An instant (unix ms) to the second, in UTC, as the tenant pages show it: "2026-11-22 10:00:05 UTC".
    static func utc(_ unixMillis: Int64) -> String {
        let time = CivilTime(unixMillis: unixMillis)
        return "\(CivilTime.date(unixMillis)) \(CivilTime.pad(time.hour)):\(CivilTime.pad(time.minute)):\(CivilTime.pad(time.second)) UTC"
    }
}
