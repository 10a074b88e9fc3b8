/// How the dashboard prints numbers and durations, the same in pages and in the live feed.
enum DashboardFormat {
    /// `value` with `places` decimals (0 to 3): "1.25".
    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return "0" }
        let places = min(max(places, 0), 3)
        let scale = [1, 10, 100, 1000][places]
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled != 0 ? "-" : ""
        if places == 0 { return sign + String(scaled) }
        let fraction = String(scaled % scale)
        return sign + String(scaled / scale) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// Per second, two decimals: "0.42/s".
    static func rate(_ perSecond: Double) -> String { decimal(perSecond, places: 2) + "/s" }

    /// An age, to the unit that matters: "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    static func age(seconds: Double) -> String {
        let s = seconds.isFinite ? max(0, Int(min(seconds, 1e12))) : 0
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86_400) d \(s % 86_400 / 3600) h"
    }
}
