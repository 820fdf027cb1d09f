/// Headcount of each jurisdiction on every day, for quota checks: how many workers hold a
/// place there on the busiest day from a given date on.
///
/// Each jurisdiction (`City` and `City/District`) keeps a segment tree over the days of the
/// supported calendar with range add and range maximum, so adding a worker's spans and asking
/// for the busiest day both take O(log days).
public final class HeadcountIndex: @unchecked Sendable {
    static let firstDay = CalendarDate(year: CalendarDate.supportedYears.lowerBound, month: 1, day: 1)!.daysSinceEpoch
    static let dayCount = CalendarDate(year: CalendarDate.supportedYears.upperBound, month: 12, day: 31)!.daysSinceEpoch
        - firstDay + 1
    static let size = 1 << 17  // the smallest power of two above dayCount (109,572)

    final class Tree {
        var maximum = [Int32](repeating: 0, count: 2 * HeadcountIndex.size)
        var pending = [Int32](repeating: 0, count: 2 * HeadcountIndex.size)

        func add(_ value: Int32, from low: Int, to high: Int, node: Int = 1, nodeLow: Int = 0, nodeHigh: Int = HeadcountIndex.size - 1) {
            if high < nodeLow || nodeHigh < low { return }
            if low <= nodeLow && nodeHigh <= high {
                maximum[node] += value
                pending[node] += value
                return
            }
            let middle = (nodeLow + nodeHigh) / 2
            add(value, from: low, to: high, node: 2 * node, nodeLow: nodeLow, nodeHigh: middle)
            add(value, from: low, to: high, node: 2 * node + 1, nodeLow: middle + 1, nodeHigh: nodeHigh)
            maximum[node] = max(maximum[2 * node], maximum[2 * node + 1]) + pending[node]
        }

        /// The maximum over [low, high] and the first day it is reached.
        func busiest(from low: Int, to high: Int, node: Int = 1, nodeLow: Int = 0, nodeHigh: Int = HeadcountIndex.size - 1)
            -> (count: Int32, day: Int)
        {
            if high < nodeLow || nodeHigh < low { return (Int32.min, -1) }
            if low <= nodeLow && nodeHigh <= high && nodeLow == nodeHigh { return (maximum[node], nodeLow) }
            if low <= nodeLow && nodeHigh <= high {
                // Descend towards the first maximum.
                let middle = (nodeLow + nodeHigh) / 2
                let left = maximum[2 * node], right = maximum[2 * node + 1]
                let found = left >= right
                    ? busiest(from: low, to: high, node: 2 * node, nodeLow: nodeLow, nodeHigh: middle)
                    : busiest(from: low, to: high, node: 2 * node + 1, nodeLow: middle + 1, nodeHigh: nodeHigh)
                return (found.count + pending[node], found.day)
            }
            let middle = (nodeLow + nodeHigh) / 2
            let left = busiest(from: low, to: high, node: 2 * node, nodeLow: nodeLow, nodeHigh: middle)
            let right = busiest(from: low, to: high, node: 2 * node + 1, nodeLow: middle + 1, nodeHigh: nodeHigh)
            let best = right.count > left.count ? right : left
            return (best.count == Int32.min ? best.count : best.count + pending[node], best.day)
        }
    }

    var trees: [String: Tree] = [:]
    var spansByWorker: [String: [WorkerState.PlacementSpan]] = [:]
    /// False for an index that keeps counts only (an import's): no spans per worker, so its memory
    /// does not grow with the number of workers. Its owner moves spans with `replace` and names
    /// the spans of the worker being judged in `judged`.
    public let tracksWorkers: Bool
    /// In an index that keeps counts only: the worker being judged and the spans the index counts
    /// for it (left out of `busiestDay` for that worker).
    public var judged: (worker: String, spans: [WorkerState.PlacementSpan])?

    public convenience init() { self.init(tracksWorkers: true) }

    /// `tracksWorkers` false: an index that keeps only the counts of each jurisdiction's days.
    public init(tracksWorkers: Bool) { self.tracksWorkers = tracksWorkers }

    /// An index of the given workers' spans.
    public convenience init(spans: [(worker: String, span: WorkerState.PlacementSpan)]) {
        self.init()
        var grouped: [String: [WorkerState.PlacementSpan]] = [:]
        for (worker, span) in spans { grouped[worker, default: []].append(span) }
        for (worker, spans) in grouped { setSpans(of: worker, spans) }
    }

    static func dayIndex(_ date: CalendarDate) -> Int { date.daysSinceEpoch - firstDay }

    /// Replaces a worker's spans.
    public func setSpans(of worker: String, _ spans: [WorkerState.PlacementSpan]) {
        precondition(tracksWorkers, "an index that keeps counts only moves spans with replace")
        for span in spansByWorker[worker] ?? [] { apply(span, -1) }
        spansByWorker[worker] = spans.isEmpty ? nil : spans
        for span in spans { apply(span, 1) }
    }

    public func spans(of worker: String) -> [WorkerState.PlacementSpan] { spansByWorker[worker] ?? [] }

    /// In an index that keeps counts only: takes `old` spans out of the counts and adds `new` ones.
    public func replace(_ old: [WorkerState.PlacementSpan], with new: [WorkerState.PlacementSpan]) {
        precondition(!tracksWorkers, "replace is for an index that keeps counts only")
        for span in old { apply(span, -1) }
        for span in new { apply(span, 1) }
    }

    func apply(_ span: WorkerState.PlacementSpan, _ value: Int32) {
        let low = Self.dayIndex(span.from)
        let high = span.until.map { Self.dayIndex($0) - 1 } ?? Self.dayCount - 1
        guard high >= low else { return }
        for jurisdiction in [span.placement.city, span.placement.districtJurisdiction] {
            let tree = trees[jurisdiction] ?? Tree()
            trees[jurisdiction] = tree
            tree.add(value, from: low, to: high)
        }
    }

    /// The most workers other than `worker` placed in `jurisdiction` on any day from `date` on,
    /// and the first such day.
    public func busiestDay(in jurisdiction: String, from date: CalendarDate, excluding worker: String) -> (count: Int, day: CalendarDate) {
        busiestDay(in: jurisdiction, from: date, through: nil, excluding: worker)
    }

    /// The most workers other than `worker` placed in `jurisdiction` on any day from `date`
    /// through `last` (to the end of the calendar when nil), and the first such day.
    public func busiestDay(in jurisdiction: String, from date: CalendarDate, through last: CalendarDate?, excluding worker: String)
        -> (count: Int, day: CalendarDate)
    {
        let own = tracksWorkers ? spansByWorker[worker] ?? [] : judged.flatMap { $0.worker == worker ? $0.spans : nil } ?? []
        for span in own { apply(span, -1) }
        defer { for span in own { apply(span, 1) } }
        guard let tree = trees[jurisdiction] else { return (0, date) }
        let high = last.map { min(Self.dayIndex($0), Self.dayCount - 1) } ?? Self.dayCount - 1
        guard high >= Self.dayIndex(date) else { return (0, date) }
        let found = tree.busiest(from: Self.dayIndex(date), to: high)
        let day = CalendarDate.civil(daysSinceEpoch: found.day + Self.firstDay)
        return (Int(max(0, found.count)), CalendarDate(year: day.year, month: day.month, day: day.day) ?? date)
    }
}
