/// The overview's chart: processed and failed jobs per second in each whole minute of the last hour,
/// drawn by the server as two SVG polylines (no script, no inline style: `dashboard.css` colours them
/// by class). Coordinates are in the SVG's viewBox units; the template places the axes and the labels
/// from the same numbers, which are stored properties because templates see only those.
struct DashboardChart: Sendable {
    static let width = 640
    static let height = 240
    static let left = 56
    static let right = 630
    static let top = 12
    static let bottom = 208

    let width = DashboardChart.width
    let height = DashboardChart.height
    let left = DashboardChart.left
    let right = DashboardChart.right
    let top = DashboardChart.top
    let bottom = DashboardChart.bottom
    let middleX = (DashboardChart.left + DashboardChart.right) / 2
    let middleY = (DashboardChart.top + DashboardChart.bottom) / 2
    /// Where the scale's labels end (right-aligned, left of the axis) and where the time labels sit.
    let labelX = DashboardChart.left - 6
    let labelsY = DashboardChart.bottom + 22

    /// The scale's top and middle, per second.
    let topLabel: String
    let middleLabel: String
    /// `x,y x,y …`, one point a minute, oldest on the left.
    let processedPoints: String
    let failedPoints: String
    /// In words, for screen readers and the figure's caption.
    let summary: String

    init(_ timeline: DashboardTimeline) {
        let processed = timeline.whole.map { Double($0.processed) / 60 }
        let failed = timeline.whole.map { Double($0.failed) / 60 }
        let scale = Self.scaleTop((processed + failed).max() ?? 0)
        let places = scale < 0.1 ? 3 : scale < 1 ? 2 : scale < 10 ? 1 : 0
        topLabel = DashboardFormat.decimal(scale, places: places)
        middleLabel = DashboardFormat.decimal(scale / 2, places: min(places + 1, 3))
        processedPoints = Self.points(processed, scale: scale)
        failedPoints = Self.points(failed, scale: scale)
        let processedTotal = timeline.whole.reduce(0) { $0 + $1.processed }
        let failedTotal = timeline.whole.reduce(0) { $0 + $1.failed }
        summary =
            "Last hour: \(processedTotal) processed and \(failedTotal) failed; at most \(DashboardFormat.rate(processed.max() ?? 0)) "
            + "processed and \(DashboardFormat.rate(failed.max() ?? 0)) failed in any minute."
    }

    /// A polyline's points for `values` (per second), spread over the plot's width.
    static func points(_ values: [Double], scale: Double) -> String {
        let (x0, x1, y0, y1) = (Double(left), Double(right), Double(top), Double(bottom))
        let step = values.count > 1 ? (x1 - x0) / Double(values.count - 1) : 0
        return values.enumerated().map { index, value in
            let x = x0 + step * Double(index)
            let y = y1 - min(max(value, 0) / scale, 1) * (y1 - y0)
            return DashboardFormat.decimal(x, places: 1) + "," + DashboardFormat.decimal(y, places: 1)
        }.joined(separator: " ")
    }

    /// The smallest of 1, 2 or 5 times a power of ten (from 0.01) at or above `value`, so that the
    /// scale's top reads as a round number; 1 for an idle hour.
    static func scaleTop(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        var magnitude = 0.01
        while magnitude < 1e12 {
            for step in [1.0, 2.0, 5.0] where step * magnitude >= value { return step * magnitude }
            magnitude *= 10
        }
        return magnitude
    }
}
