import DossierDomain
import Foundation

/// A worker's career drawn as SVG: the level as steps, posts and communities as bars, and every
/// decision as a mark on its effective date (rescinded or overturned ones struck through and
/// hollow, corrected ones with a ring, each linked to its row in the trace table).
enum Timeline {
    typealias Period = (from: CalendarDate, until: CalendarDate?, value: String)

    static func svg(
        entries: [TraceEntry], levels: [Period], posts: [Period], places: [Period], end: CalendarDate, strings: Strings
    ) -> String {
        let dates = entries.map(\.event.effective) + levels.map(\.from) + posts.map(\.from) + places.map(\.from)
        guard let first = dates.min() else { return "<p>\(escape(strings["none"]))</p>" }
        // The last year drawn must itself be a date the ledger knows (asOf may be its last day).
        let startYear = first.year, endYear = min(max(end.year, first.year) + 1, CalendarDate.supportedYears.upperBound)
        let width = 1100.0, left = 110.0, right = 20.0
        let span = Double(max(1, endYear - startYear))
        func x(_ date: CalendarDate) -> Double {
            let fraction = Double(date.year - startYear) + (Double(date.month - 1) + Double(date.day - 1) / 31) / 12
            return left + (width - left - right) * fraction / span
        }
        let lanes: [(String, Double)] = [
            (strings["level"], 40), (strings["post"], 100), (strings["community"], 140), (strings["events"], 190),
        ]
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) 250" role="img" aria-label="\(escape(strings["timeline"]))">
            """
        for (index, (label, y)) in lanes.enumerated() {
            let axis = index == 0 ? 66 : y + 12
            svg += "<text x=\"4\" y=\"\(y + 4)\">\(escape(label))</text><line class=\"axis\" x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(axis)\" y2=\"\(axis)\"/>"
        }
        // Years.
        let step = max(1, (endYear - startYear) / 12)
        for year in stride(from: startYear, through: endYear, by: step) {
            guard let january = CalendarDate(year: year, month: 1, day: 1) else { continue }
            let position = x(january)
            svg += "<line class=\"axis\" x1=\"\(position)\" x2=\"\(position)\" y1=\"225\" y2=\"231\"/><text x=\"\(position - 12)\" y=\"244\">\(year)</text>"
        }
        // Level steps (1–18, higher is up).
        var points: [String] = []
        for period in levels {
            guard let level = Int(period.value) else { continue }
            let y = 64 - Double(level) * 2.8
            points.append("\(x(period.from)),\(y)")
            points.append("\(x(period.until ?? end)),\(y)")
            svg += "<text x=\"\(x(period.from) + 2)\" y=\"\(y - 3)\">\(level)</text>"
        }
        if !points.isEmpty { svg += "<polyline class=\"lvl\" points=\"\(points.joined(separator: " "))\"/>" }
        // Bars.
        for (periods, y) in [(posts, 100.0), (places, 140.0)] {
            for period in periods {
                let from = x(period.from), to = max(x(period.until ?? end), from + 2)
                svg += "<rect class=\"bar\" x=\"\(from)\" y=\"\(y - 8)\" width=\"\(to - from)\" height=\"16\"><title>\(escape(period.value)) \(period.from)–\(period.until.map(\.description) ?? "")</title></rect>"
                if to - from > 50 {
                    svg += "<text x=\"\(from + 3)\" y=\"\(y + 4)\">\(escape(String(period.value.prefix(Int((to - from) / 7)))))</text>"
                }
            }
        }
        // Decisions, staggered so that marks on close dates stay apart.
        var lastX = -100.0, row = 0
        for entry in entries {
            let position = x(entry.event.effective)
            row = position - lastX < 10 ? (row + 1) % 3 : 0
            lastX = position
            let y = 190 + Double(row) * 10
            let id = entry.event.eventID.uuidString.lowercased()
            let void = entry.status.isVoid
            let title = "\(entry.event.effective) \(entry.event.type)" + (void ? " (\(entry.status.rescindedBy != nil ? strings["rescinded"] : strings["overturned"]))" : "")
                + (entry.status.correctedBy.isEmpty ? "" : " (\(strings["corrected"]))")
            svg += "<a href=\"#e-\(id)\"><circle class=\"\(void ? "void" : "ev")\" cx=\"\(position)\" cy=\"\(y)\" r=\"4.5\"><title>\(escape(title))</title></circle>"
            if void { svg += "<line class=\"strike\" x1=\"\(position - 7)\" x2=\"\(position + 7)\" y1=\"\(y)\" y2=\"\(y)\"/>" }
            if !entry.status.correctedBy.isEmpty { svg += "<circle class=\"ring\" cx=\"\(position)\" cy=\"\(y)\" r=\"7\"/>" }
            svg += "</a>"
        }
        return svg + "</svg>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
