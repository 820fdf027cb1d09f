import DossierDomain
import Testing

@Suite("Headcount index")
struct HeadcountIndexTests {
    @Test("the busiest day from a date matches counting every day by hand")
    func matchesBruteForce() {
        var random = SystemRandomNumberGenerator()
        let index = HeadcountIndex()
        let base = CalendarDate("2015-01-01")!
        var all: [String: [WorkerState.PlacementSpan]] = [:]
        let placements = ["A", "B"].map { Decision.Placement(community: "c", street: "s", district: $0, city: "上海") }
        for worker in 0..<60 {
            var spans: [WorkerState.PlacementSpan] = []
            var day = Int.random(in: 0...300, using: &random)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let length = Int.random(in: 1...400, using: &random)
                let open = Bool.random(using: &random) && spans.count == 2
                spans.append(WorkerState.PlacementSpan(
                    placement: placements.randomElement(using: &random)!, from: base.adding(days: day)!,
                    until: open ? nil : base.adding(days: day + length)!))
                day += length + Int.random(in: 0...50, using: &random)
                if open { break }
            }
            all["w\(worker)"] = spans
            index.setSpans(of: "w\(worker)", spans)
        }
        for probe in stride(from: 0, to: 1200, by: 97) {
            let from = base.adding(days: probe)!
            for jurisdiction in ["上海", "上海/A", "上海/B"] {
                let found = index.busiestDay(in: jurisdiction, from: from, excluding: "w0")
                var best = 0
                for offset in probe..<1500 {
                    let day = base.adding(days: offset)!
                    let count = all.filter { $0.key != "w0" }.values.reduce(0) { total, spans in
                        total + spans.filter {
                            $0.covers(day) && (jurisdiction.contains("/") ? $0.placement.districtJurisdiction == jurisdiction : true)
                        }.count
                    }
                    best = max(best, count)
                }
                #expect(found.count == best, "\(jurisdiction) from \(from)")
            }
        }
    }
}
