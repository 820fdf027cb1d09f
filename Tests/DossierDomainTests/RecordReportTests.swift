import DossierDomain
import Foundation
import Testing

/// The report renderer alone (`RecordReport.html`), on a record folded here: whatever the
/// ledger holds is text in the document, in the page's running header (CSS) as in its body.
@Suite("RecordReport: the HTML of a record")
struct RecordReportTests {
    /// Decisions as the log would hold them, in order, recorded a minute apart from `start`.
    static func stored(_ lines: [String], start: Int64 = 1_700_000_000_000_000) throws -> [StoredDecision] {
        try lines.enumerated().map { offset, line in
            var decision = try DecisionCodec.decode(json: line)
            decision.personal = nil
            return StoredDecision(
                event: RecordedEvent(
                    position: Int64(offset + 1), stream: decision.stream, version: offset + 1, eventID: UUID(), type: decision.kind.rawValue,
                    schemaVersion: 1, payload: DecisionCodec.payload(of: decision), effective: decision.effective,
                    recordedAt: Timestamp(microsecondsSinceEpoch: start + Int64(offset) * 60_000_000), recordedBy: "clerk",
                    authority: decision.authority, reference: decision.reference),
                decision: decision)
        }
    }

    static let worker = "W-9"

    func report(_ stored: [StoredDecision], personal: PersonalRecord?, knownAt: Timestamp? = nil) -> RecordReport {
        let asOf = CalendarDate("2020-12-31")!
        func state(_ knownAt: Timestamp?) -> WorkerReport {
            let outcome = Replay.fold(worker: Self.worker, Replay.history(stored, knownAt: knownAt), asOf: asOf)
            return WorkerReport(state: outcome.state, personal: personal, asOf: asOf, knownAt: knownAt, parameters: .defaults, version: stored.count)
        }
        return RecordReport(
            subject: Self.worker, stream: .worker(Self.worker), current: state(nil), known: knownAt.map { state($0) },
            trace: Replay.trace(stored), personal: personal, reader: RecordReport.Reader(name: "审阅人\"<b>", role: "reviewer"),
            generatedAt: Timestamp(microsecondsSinceEpoch: 1_800_000_000_000_000), bundle: nil, ledger: "dossier/</style>")
    }

    static let hire = #"{"decision":"hire","worker":"W-9","name":"李四","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":5,"education":"bachelor","effective":"2012-03-01","authority":"五里桥街道办事处","reference":"H-1"}"#

    @Test("ledger text is escaped everywhere: body, title, attributes and the print header's CSS strings")
    func escaping() throws {
        let misconduct = #"{"decision":"misconduct","worker":"W-9","description":"</td></tr></table><script>alert(1)</script>","sanction":"warning","effective":"2015-05-04","authority":"'\"><img src=x onerror=alert(1)>","reference":"</style><script>x()</script>"}"#
        let html = report(try Self.stored([Self.hire, misconduct]), personal: PersonalRecord(name: "<i>李四</i>", erased: false)).html
        #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("<i>") && !html.contains("<b>"))
        #expect(html.contains("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&#39;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"))
        #expect(html.contains("&lt;i&gt;李四&lt;/i&gt;"))
        // The style element holds no markup: the reader's name and the ledger's go into CSS strings as escapes.
        let style = html.components(separatedBy: "<style>")[1].components(separatedBy: "</style>")[0]
        #expect(!style.contains("<") && !style.contains(">"), "\(style)")
        #expect(style.contains(#"\22 "#) && style.contains("审阅人"), "the reader's quote is a CSS escape")
        #expect(html.components(separatedBy: "</style>").count == 2, "one style element, closed once")
        #expect(html.contains(#"<html lang="zh-CN">"#) && html.contains("size: A4"))
        #expect(html.contains("本报告未附证据包"))
    }

    @Test("--known-at: the rows that differ are marked, the decisions learned later say so")
    func knownAt() throws {
        let level = #"{"decision":"level-change","worker":"W-9","level":6,"grounds":"seniority","effective":"2016-01-01","authority":"黄浦区社会工作部","reference":"L-1"}"#
        var stored = try Self.stored([Self.hire, level])
        let correction = #"{"decision":"correction","worker":"W-9","corrects":"\#(stored[1].event.eventID.uuidString.lowercased())","level":7,"effective":"2017-01-01","authority":"黄浦区社会工作部","reference":"C-1"}"#
        stored += try Self.stored([correction], start: 1_700_000_000_000_000 + 2 * 60_000_000).map { item in
            var item = item
            item.event.position = 3
            item.event.version = 3
            return item
        }
        let html = report(stored, personal: PersonalRecord(name: nil, erased: false, withheld: true), knownAt: stored[1].event.recordedAt).html
        #expect(html.contains("<tr class=\"diff\"><th>等级 <span class=\"term\">level</span></th><td>7 级</td><td>6 级</td><td class=\"mark\">≠ 不同</td></tr>"))
        #expect(html.contains("已更正 CORRECTED · 见<a href=\"#e-\(stored[2].event.eventID.uuidString.lowercased())\">第 3 项</a>"))
        #expect(html.components(separatedBy: "对照时点后录入 <span").count == 2, "the correction alone was recorded after")
        #expect(html.contains("<span class=\"mono\">\(stored[1].event.recordedAt)</span>（含）之前已录入"))
        #expect(html.contains("本角色无权查阅个人信息") && !html.contains("李四"))
    }
}
