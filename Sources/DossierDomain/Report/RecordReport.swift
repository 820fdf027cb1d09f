import Crypto
import Foundation

/// A worker's record as one document a person reads and prints: the facts `dossier export
/// --report` gathers, rendered to HTML by `html` (pure: the same facts give the same bytes).
///
/// The report holds what the reader's role was shown: `personal` is what the database served
/// (a name only to roles that may read names), and nothing here looks a name up on its own.
public struct RecordReport: Sendable {
    /// The person who made the report, as the database knows them.
    public struct Reader: Sendable, Equatable {
        public var name: String
        /// The Dossier role (`hr`, `reviewer`, `auditor`, `admin`).
        public var role: String

        public init(name: String, role: String) {
            self.name = name
            self.role = role
        }
    }

    /// The evidence bundle written beside the report, as verified when the report was made.
    public struct Bundle: Sendable {
        /// The bundle's file name as the reader will receive it (no directory).
        public var fileName: String
        /// SHA-256 of the bundle file's bytes, 64 lowercase hex digits.
        public var sha256: String
        public var byteCount: Int
        public var stream: StreamID
        public var eventIDs: [UUID]
        public var checkpoint: Checkpoint
        /// The checkpoint signing key, `name+keyid+base64`.
        public var publicKey: String
        public var keyName: String
        public var complete: Bool
        public var personalOpened: Int
        /// Older checkpoints the bundle carries consistency proofs from.
        public var linked: [Checkpoint]

        /// The facts of the bundle file `bytes`, named `fileName`, that `verified` checked.
        public init(fileName: String, bytes: [UInt8], verified: EvidenceBundle.Verified) {
            self.fileName = fileName
            sha256 = Array(SHA256.hash(data: bytes)).hexString
            byteCount = bytes.count
            stream = verified.stream
            eventIDs = verified.events.map(\.eventID)
            checkpoint = verified.checkpoint
            publicKey = verified.key.text
            keyName = verified.key.name
            complete = verified.complete
            personalOpened = verified.personalVerified
            linked = verified.linked
        }
    }

    /// The worker (or cadre) id.
    public var subject: String
    public var stream: StreamID
    /// The record on the chosen date as known now; nil for a temporary-post cadre.
    public var current: WorkerReport?
    /// The record on the same date as known at another time (`--known-at`), when asked.
    public var known: WorkerReport?
    /// Every event of the record, in log order, with what later decisions did to it.
    public var trace: [TraceEntry]
    /// The personal data as served to the reader (nil: none recorded).
    public var personal: PersonalRecord?
    public var reader: Reader
    public var generatedAt: Timestamp
    public var bundle: Bundle?
    /// The ledger's name (the checkpoint origin, e.g. `dossier/ledger`), when known.
    public var ledger: String?
    /// Why no bundle is attached, when none is (e.g. the latest checkpoint does not cover the record).
    public var bundleAbsence: String?

    public init(
        subject: String, stream: StreamID, current: WorkerReport?, known: WorkerReport?, trace: [TraceEntry],
        personal: PersonalRecord?, reader: Reader, generatedAt: Timestamp, bundle: Bundle?, ledger: String?
    ) {
        self.subject = subject
        self.stream = stream
        self.current = current
        self.known = known
        self.trace = trace
        self.personal = personal
        self.reader = reader
        self.generatedAt = generatedAt
        self.bundle = bundle
        self.ledger = ledger
    }

    /// The date the record is stated for.
    public var asOf: CalendarDate? { current?.asOf ?? known?.asOf }

    /// The report as a self-contained HTML document (zh-CN, A4 print layout, inline CSS, no
    /// script and no external resource; every value escaped).
    public var html: String { ReportHTML(report: self).render() }
}

/// Renders a `RecordReport`. Every text that comes from the ledger passes through `escape`.
struct ReportHTML {
    let report: RecordReport
    /// 1-based place of each event in the trace: "第 N 项" in the document.
    let ordinal: [UUID: Int]
    /// Which entries name each entry in their fields (field name, the entry naming it).
    let incoming: [UUID: [(field: String, source: UUID)]]
    let entries: [UUID: TraceEntry]

    init(report: RecordReport) {
        self.report = report
        var ordinal: [UUID: Int] = [:]
        var entries: [UUID: TraceEntry] = [:]
        for (index, entry) in report.trace.enumerated() {
            ordinal[entry.event.eventID] = index + 1
            entries[entry.event.eventID] = entry
        }
        var incoming: [UUID: [(String, UUID)]] = [:]
        for entry in report.trace {
            for (field, value) in entry.event.payload.members.sorted(by: { $0.key < $1.key }) {
                for text in Self.strings(in: value) {
                    guard let id = UUID(uuidString: text), id != entry.event.eventID, ordinal[id] != nil else { continue }
                    incoming[id, default: []].append((field, entry.event.eventID))
                }
            }
        }
        self.ordinal = ordinal
        self.incoming = incoming
        self.entries = entries
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let list): list.flatMap(strings(in:))
        default: []
        }
    }

    // MARK: The document

    func render() -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="Dossier">
            <title>\(e("社区工作者档案记录 · 工号 " + report.subject))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <main class="sheet">

            """
        html += header()
        html += recordSection()
        html += eligibilitySection()
        html += timelineSection()
        html += verificationSection()
        html += closing()
        html += "</main>\n</body>\n</html>\n"
        return html
    }

    var title: String { report.current == nil ? "挂职人员档案记录" : "社区工作者档案记录" }

    /// The running header and footer of every printed page, and the page numbers.
    var css: String {
        let asOf = report.asOf.map { " · 截至 \($0)" } ?? ""
        let left = cssString("Dossier · " + title)
        let right = cssString("工号 " + report.subject + asOf)
        let generated = cssString("生成于 " + Self.minute(report.generatedAt) + " · " + report.reader.name)
        return """
            @page {
              size: A4;
              margin: 22mm 18mm 20mm 20mm;
              @top-left { content: \(left); font-size: 8pt; color: #444; }
              @top-right { content: \(right); font-size: 8pt; color: #444; }
              @bottom-left { content: \(generated); font-size: 7.5pt; color: #555; }
              @bottom-right { content: "第 " counter(page) " 页，共 " counter(pages) " 页"; font-size: 8pt; }
            }
            * { box-sizing: border-box; }
            html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
            body {
              margin: 0; color: #111;
              font-family: "Noto Serif CJK SC", "Source Han Serif SC", "Songti SC", "STSong", "SimSun", "Noto Sans CJK SC",
                "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", serif;
              font-size: 10pt; line-height: 1.5;
            }
            @media screen {
              body { background: #d9d9d9; }
              .sheet { background: #fff; width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 18mm 18mm 20mm 20mm;
                       box-shadow: 0 1px 6px rgba(0,0,0,.35); }
            }
            @media print { .sheet { width: auto; margin: 0; padding: 0; } a { color: inherit; text-decoration: none; } }
            .masthead { text-align: center; border-bottom: 2.5pt double #b00; padding-bottom: 4pt; margin-bottom: 8pt; }
            .ledger { font-size: 9pt; color: #b00; letter-spacing: .08em; }
            h1 { font-size: 20pt; letter-spacing: .35em; margin: 4pt 0 0; font-weight: 700; }
            .subtitle { font-size: 9pt; color: #444; margin: 0; letter-spacing: .05em; }
            h2 { font-size: 12.5pt; margin: 14pt 0 5pt; padding-bottom: 2pt; border-bottom: 1pt solid #111;
                 break-after: avoid; page-break-after: avoid; }
            h3 { font-size: 10.5pt; margin: 8pt 0 3pt; break-after: avoid; page-break-after: avoid; }
            p { margin: 3pt 0; }
            table { border-collapse: collapse; width: 100%; margin: 3pt 0 6pt; }
            th, td { border: .6pt solid #555; padding: 2.5pt 4pt; vertical-align: top; text-align: left; }
            th { background: #f0f0f0; font-weight: 700; }
            thead { display: table-header-group; }
            tr { break-inside: avoid; page-break-inside: avoid; }
            table.meta th { width: 16%; }
            table.meta td { width: 34%; }
            table.facts th { width: 22%; }
            .term { color: #555; font-size: 8pt; font-weight: 400; }
            .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", "Noto Sans Mono CJK SC", monospace; font-size: 7.5pt;
                    overflow-wrap: anywhere; word-break: break-all; }
            .note { font-size: 8.5pt; color: #333; }
            .diff td, .diff th { background: #fff1b8; }
            .diff .mark { font-weight: 700; }
            td.mark { text-align: center; white-space: nowrap; }
            table.compare, table.eligibility, table.timeline { table-layout: fixed; }
            col.c-label { width: 19%; } col.c-value { width: 35%; } col.c-mark { width: 11%; }
            col.c-kind { width: 16%; } col.c-half { width: 42%; } col.c-full { width: 84%; }
            col.t-no { width: 8.5%; } col.t-date { width: 12%; } col.t-kind { width: 16%; } col.t-who { width: 16%; }
            col.t-rec { width: 14%; } col.t-details { width: 33.5%; }
            td.no, td.date { white-space: nowrap; overflow-wrap: normal; }
            td, th { overflow-wrap: anywhere; }
            .yes { font-weight: 700; }
            .badge { display: inline-block; border: .8pt solid #333; border-radius: 2pt; padding: 0 3pt; margin: 1pt 2pt 1pt 0;
                     font-size: 8pt; line-height: 1.35; }
            .badge.void { border-color: #b00; color: #b00; font-weight: 700; }
            .badge.fix { border-color: #8a5a00; color: #8a5a00; font-weight: 700; }
            .badge.rule { border-color: #1f5f8b; color: #1f5f8b; }
            .badge.later { border-style: dashed; }
            table.timeline { font-size: 8.5pt; }
            table.timeline th { font-size: 8.5pt; }
            tr.void td { background: #f6f6f6; color: #555; }
            tr.void .kindname { text-decoration: line-through; }
            tr.other td { background: #f3f7fb; }
            .refs { margin-top: 2pt; }
            dl.details { margin: 0; }
            dl.details div { margin: 0 0 1pt; }
            dl.details dt { display: inline; color: #444; }
            dl.details dt::after { content: "："; }
            dl.details dd { display: inline; margin: 0; }
            ol.steps { margin: 3pt 0 3pt 16pt; padding: 0; }
            ol.steps li { margin: 3pt 0; break-inside: avoid; page-break-inside: avoid; }
            pre.cmd { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8pt; background: #f4f4f4;
                      border: .6pt solid #999; padding: 3pt 5pt; margin: 2pt 0; white-space: pre-wrap; word-break: break-all; }
            .closing { margin-top: 14pt; border-top: .6pt solid #555; padding-top: 4pt; font-size: 8.5pt; color: #333;
                       break-inside: avoid; page-break-inside: avoid; }
            """
    }

    // MARK: Header

    func header() -> String {
        var html = "<header class=\"masthead\">\n"
        html += "<div class=\"ledger\">\(e("Dossier 社区工作者人事档案账本" + (report.ledger.map { " · " + $0 } ?? "")))</div>\n"
        html += "<h1>\(e(title))</h1>\n"
        html += "<p class=\"subtitle\">Personnel record · 依据不可篡改的事件日志生成，附可离线核验的证据包</p>\n"
        html += "</header>\n"
        var rows: [(String, String, String, String)] = []
        rows.append((th("工号", "worker"), e(report.subject), th("姓名", "name"), nameCell(report.personal)))
        let asOf = report.asOf.map { e($0.description) } ?? "—"
        var basis = "按现在所知 <span class=\"term\">as known now</span>"
        if let knownAt = report.known?.knownAt {
            basis += "；并对照按 \(e(Self.second(knownAt))) 所知 <span class=\"term\">as known at \(e(knownAt.description))</span>"
        }
        rows.append((th("记录日期", "as of"), asOf, th("依据", "basis"), basis))
        rows.append((
            th("生成时间", "generated at"), e(Self.second(report.generatedAt)),
            th("生成人", "generated by"), e(report.reader.name) + "（" + e(Self.roleLabel(report.reader.role)) + "）"
        ))
        if let bundle = report.bundle {
            rows.append((
                th("证据包", "bundle"), "<span class=\"mono\">\(e(bundle.fileName))</span>",
                th("SHA-256", "of the bundle file"), "<span class=\"mono\">\(e(bundle.sha256))</span>"
            ))
        }
        html += "<table class=\"meta\">\n"
        for row in rows { html += "<tr>\(row.0)<td>\(row.1)</td>\(row.2)<td>\(row.3)</td></tr>\n" }
        html += "</table>\n"
        return html
    }

    func nameCell(_ personal: PersonalRecord?) -> String {
        guard let personal else { return "—" }
        if personal.erased {
            return "（个人信息已依法删除" + (personal.erasure.map { "：" + e($0) } ?? "") + "）<span class=\"term\">erased</span>"
        }
        if personal.withheld { return "（本角色无权查阅个人信息，不予显示）<span class=\"term\">withheld</span>" }
        return personal.name.map(e) ?? "—"
    }

    // MARK: The record on the date

    /// One line of the record: a key to compare by, a label and the value (HTML).
    typealias Fact = (key: String, label: String, value: String)

    func facts(_ report: WorkerReport) -> [Fact] {
        let state = report.state
        var facts: [Fact] = []
        func add(_ key: String, _ label: String, _ term: String, _ value: String) {
            facts.append((key, label + " <span class=\"term\">\(term)</span>", value))
        }
        add("name", "姓名", "name", nameCell(report.personal))
        var status = Self.term(state.status.rawValue, Self.statusLabels)
        if let exit = state.exit {
            status += "（" + Self.term(exit.rawValue, Self.kindLabels) + (state.exitDate.map { "，" + e($0.description) } ?? "") + "）"
        }
        add("status", "状态", "status", status)
        add("post", "职务", "post", state.post.map { Self.term($0.rawValue, Self.postLabels) } ?? "—")
        add("role", "岗位", "role", state.role.map { Self.term($0.rawValue, Self.roleValueLabels) } ?? "—")
        add("level", "等级", "level", state.level.map { "\($0) 级" } ?? "—")
        add(
            "place", "工作单位", "community, street, district, city",
            state.placement.map { e("\($0.city) \($0.district) \($0.street) \($0.community)") } ?? "—")
        add("establishment", "编制", "establishment", Self.term(state.establishment.rawValue, Self.establishmentLabels))
        add("serviceStart", "连续社区工作起始", "serviceStart", state.serviceStart.map { e($0.description) } ?? "—")
        add("secretarySince", "任党组织书记起始", "secretarySince", state.secretarySince.map { e($0.description) } ?? "—")
        add(
            "assessments", "年度考核", "assessments",
            state.assessmentsByYear.isEmpty
                ? "—" : state.assessmentsByYear.map { "\($0.year) 年 " + Self.term($0.grade.rawValue, Self.valueLabels) }.joined(separator: "；"))
        add(
            "qualifications", "职业资格", "qualifications",
            state.qualifications.isEmpty
                ? "—"
                : state.qualifications.sorted { $0.key < $1.key }.map { Self.term($0.key.rawValue, Self.valueLabels) + "（" + e($0.value.description) + " 起）" }
                    .joined(separator: "；"))
        add("subsidy", "职业资格月补贴", "monthlySubsidy", "\(state.monthlySubsidy(report.parameters)) 元")
        let training = TrainingKind.allCases.compactMap { kind in
            state.trainingHours[kind].map { Self.term(kind.rawValue, Self.valueLabels) + " \($0) 学时" }
        }
        add("training", "培训", "trainingHours", training.isEmpty ? "—" : training.joined(separator: "；"))
        add(
            "secondment", "借调", "secondment",
            state.secondment.map { s in
                e(s.to) + "（" + Self.term(s.toLevel.rawValue, Self.valueLabels) + "），" + e("\(s.since) 至 \(s.until)")
                    + (s.approval.map { "，批准文号 " + e($0) } ?? "")
            } ?? "—")
        add(
            "misconduct", "违纪及容错认定", "misconduct",
            state.misconducts.isEmpty
                ? "—"
                : state.misconducts.map { m in
                    e(m.effective.description) + " " + Self.term(m.sanction.rawValue, Self.valueLabels)
                        + (m.ruling.map { "，认定 " + Self.term($0.rawValue, Self.valueLabels) } ?? "，尚无容错认定")
                        + "，计为 " + Self.term(m.countingSanction.rawValue, Self.valueLabels)
                        + (ordinal[m.eventID].map { "（第 \($0) 项）" } ?? "")
                }.joined(separator: "<br>"))
        return facts
    }

    func recordSection() -> String {
        var html = "<section id=\"record\">\n"
        guard let current = report.current else {
            html += "<h2>一、档案状态</h2>\n<p>此记录为挂职人员（temporary-post cadre）记录，不计算社区工作者状态与资格；全部决定见下文职业时间线。</p>\n"
            return html + "</section>\n"
        }
        let date = e(current.asOf.description)
        guard let known = report.known, let knownAt = known.knownAt else {
            html += "<h2>一、\(date) 的档案状态 <span class=\"term\">record as of \(date), as known now</span></h2>\n"
            html += "<p class=\"note\">按截至本报告生成时账本所载的全部决定（含此后录入的更正、撤销与复核结果）计算。</p>\n"
            html += "<table class=\"facts\">\n"
            for fact in facts(current) { html += "<tr><th>\(fact.label)</th><td>\(fact.value)</td></tr>\n" }
            return html + "</table>\n</section>\n"
        }
        let then = e(Self.second(knownAt))
        html += "<h2>一、\(date) 的档案状态：现在所知与 \(then) 所知对照 <span class=\"term\">as known now / as known at</span></h2>\n"
        html += "<p class=\"note\">左栏按账本现在所载的全部决定计算；右栏只计入 <span class=\"mono\">\(e(knownAt.description))</span>"
            + "（含）之前已录入的决定，即当时账本所能给出的答案。两者不同的行以底色和“≠ 不同”标出。</p>\n"
        let before = Dictionary(facts(known).map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        var differences = 0
        html += "<table class=\"facts compare\">\n<colgroup><col class=\"c-label\"><col class=\"c-value\"><col class=\"c-value\">"
            + "<col class=\"c-mark\"></colgroup>\n<thead><tr><th>项目</th><th>按现在所知 <span class=\"term\">now</span></th>"
            + "<th>按 \(then) 所知 <span class=\"term\">known at</span></th><th>对照</th></tr></thead>\n<tbody>\n"
        for fact in facts(current) {
            let old = before[fact.key] ?? "—"
            let differs = old != fact.value
            if differs { differences += 1 }
            html += "<tr\(differs ? " class=\"diff\"" : "")><th>\(fact.label)</th><td>\(fact.value)</td><td>\(old)</td>"
                + "<td class=\"mark\">\(differs ? "≠ 不同" : "相同")</td></tr>\n"
        }
        html += "</tbody>\n</table>\n"
        html += "<p class=\"note\">共 \(differences) 项不同" + (differences == 0 ? "：此后录入的决定未改变该日期的档案状态。" : "。") + "</p>\n"
        return html + "</section>\n"
    }

    // MARK: Eligibility

    func eligibilitySection() -> String {
        guard let current = report.current else { return "" }
        var html = "<section id=\"eligibility\">\n<h2>二、资格 <span class=\"term\">eligibility on \(e(current.asOf.description))</span></h2>\n"
        let known = report.known
        html += "<table class=\"eligibility\">\n<colgroup><col class=\"c-kind\">"
            + (known?.knownAt == nil ? "<col class=\"c-full\">" : "<col class=\"c-half\"><col class=\"c-half\">") + "</colgroup>\n"
        html += "<thead><tr><th>资格</th><th>按现在所知 <span class=\"term\">now</span></th>"
        if let knownAt = known?.knownAt { html += "<th>按 \(e(Self.second(knownAt))) 所知 <span class=\"term\">known at</span></th>" }
        html += "</tr></thead>\n<tbody>\n"
        for kind in EligibilityKind.allCases {
            let now = current.eligibility(kind)
            let then = known?.eligibility(kind)
            let differs = then.map { $0 != now } ?? false
            html += "<tr\(differs ? " class=\"diff\"" : "")><th>" + Self.term(kind.rawValue, Self.eligibilityLabels) + "</th>"
            html += "<td>" + verdict(now) + "</td>"
            if let then { html += "<td>" + verdict(then) + (differs ? "<br><b>≠ 不同</b>" : "") + "</td>" }
            html += "</tr>\n"
        }
        html += "</tbody>\n</table>\n"
        html += "<p class=\"note\">理由为账本规则的原文（英文），写明所依据的考核、年限、处分及容错认定。</p>\n"
        return html + "</section>\n"
    }

    func verdict(_ eligibility: Eligibility) -> String {
        (eligibility.eligible ? "<span class=\"yes\">是 <span class=\"term\">yes</span></span>" : "否 <span class=\"term\">no</span>")
            + "：<span class=\"reason\">" + e(eligibility.reason) + "</span>"
    }

    // MARK: Timeline

    func timelineSection() -> String {
        let number = report.current == nil ? "二" : "三"
        var html = "<section id=\"timeline\">\n<h2>\(number)、职业时间线 <span class=\"term\">every recorded decision, in the order recorded</span></h2>\n"
        html += "<p class=\"note\">按录入顺序列出账本所载的每一项决定，原决定一律保留：被更正、撤销或经复核推翻的决定仍在原处，"
            + "并注明由第几项改变；更正、撤销、容错认定与复核决定注明所针对的项。"
            + (report.known?.knownAt.map { "标“对照时点后录入”的决定在 <span class=\"mono\">\(e($0.description))</span> 尚不为账本所知。" } ?? "")
            + "</p>\n"
        if report.trace.isEmpty { return html + "<p>（无）</p>\n</section>\n" }
        html += "<table class=\"timeline\">\n<colgroup><col class=\"t-no\"><col class=\"t-date\"><col class=\"t-kind\"><col class=\"t-who\">"
            + "<col class=\"t-rec\"><col class=\"t-details\"></colgroup>\n<thead><tr><th>序号</th><th>生效日期</th><th>决定</th><th>决定机关 / 文号</th>"
            + "<th>录入</th><th>内容与关联</th></tr></thead>\n<tbody>\n"
        for entry in report.trace { html += row(entry) }
        html += "</tbody>\n</table>\n"
        return html + "</section>\n"
    }

    func ref(_ id: UUID) -> String {
        guard let number = ordinal[id] else { return "<span class=\"mono\">\(e(id.uuidString.lowercased()))</span>" }
        return "<a href=\"#e-\(id.uuidString.lowercased())\">第 \(number) 项</a>"
    }

    func kindName(_ type: String) -> String { Self.term(type, Self.kindLabels) }

    func row(_ entry: TraceEntry) -> String {
        let event = entry.event
        let id = event.eventID.uuidString.lowercased()
        let status = entry.status
        var classes: [String] = []
        if status.isVoid { classes.append("void") }
        let foreign = event.stream != report.stream
        if foreign { classes.append("other") }
        var badges: [String] = []
        if let by = status.rescindedBy { badges.append("<span class=\"badge void\">已撤销 RESCINDED · 见\(ref(by))</span>") }
        if let by = status.overturnedBy { badges.append("<span class=\"badge void\">经复核推翻 OVERTURNED · 见\(ref(by))</span>") }
        if !status.correctedBy.isEmpty {
            badges.append("<span class=\"badge fix\">已更正 CORRECTED · 见" + status.correctedBy.map(ref).joined(separator: "、") + "</span>")
        }
        if let by = status.upheldBy { badges.append("<span class=\"badge rule\">经复核维持 UPHELD · 见\(ref(by))</span>") }
        if let ruling = status.ruling {
            badges.append(
                "<span class=\"badge rule\">容错认定：" + e(Self.valueLabels[ruling.rawValue] ?? ruling.rawValue) + " "
                    + e(ruling.rawValue.uppercased()) + (status.rulingBy.map { " · 见" + ref($0) } ?? "") + "</span>")
        }
        if entry.decision.override != nil { badges.append("<span class=\"badge fix\">政策例外 POLICY EXCEPTION</span>") }
        if let knownAt = report.known?.knownAt, event.knownFrom > knownAt {
            badges.append("<span class=\"badge later\">对照时点后录入 <span class=\"term\">recorded after \(e(Self.second(knownAt)))</span></span>")
        }
        var html = "<tr id=\"e-\(id)\"\(classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\"")>"
        html += "<td class=\"no\">第 \(ordinal[event.eventID] ?? 0) 项<br><span class=\"term\">#\(event.position)</span></td>"
        html += "<td class=\"date\">\(e(event.effective.description))</td>"
        html += "<td class=\"kind\"><span class=\"kindname\">\(kindName(event.type))</span>"
        if !badges.isEmpty { html += "<div class=\"refs\">" + badges.joined(separator: " ") + "</div>" }
        html += "</td>"
        html += "<td class=\"who\">\(e(event.authority))<br><span class=\"term\">文号</span> \(e(event.reference))</td>"
        let recorded = event.recordedAt.description
        html += "<td class=\"rec\">\(e(String(recorded.prefix(10))))<br><span class=\"term\">\(e(String(recorded.dropFirst(11))))</span>"
            + "<br>\(e(event.recordedBy))"
        if let note = event.onBehalfOf { html += "<br><span class=\"term\">代 \(e(note)) 录入（录入人备注）</span>" }
        html += "</td>"
        html += "<td>" + details(entry)
        var links: [String] = []
        let covered = Set(status.correctedBy + [status.rescindedBy, status.overturnedBy, status.upheldBy, status.rulingBy].compactMap { $0 })
        for (field, source) in incoming[event.eventID] ?? [] where !covered.contains(source) {
            let kind = entries[source].map { kindName($0.event.type) } ?? ""
            links.append("被\(ref(source))引用（\(kind)；字段 <span class=\"term\">\(e(field))</span>）")
        }
        if !links.isEmpty { html += "<div class=\"refs\">" + links.joined(separator: "<br>") + "</div>" }
        if let override = entry.decision.override {
            html += "<div class=\"refs\">例外理由：\(e(override))；批准：\(e(entry.decision.overrideApproval ?? "（缺）"))"
            if !entry.exceptions.isEmpty {
                html += "（所越规则 <span class=\"term\">" + entry.exceptions.map { e($0.rule.rawValue) }.joined(separator: ", ") + "</span>）"
            }
            html += "</div>"
        }
        if foreign { html += "<div class=\"refs note\">此决定记在 <span class=\"mono\">\(e(event.stream.rawValue))</span>，不在本证据包内。</div>" }
        html += "<div class=\"mono\">事件 \(e(id))</div></td></tr>\n"
        return html
    }

    /// The decision's own fields: labels in Chinese with the field name, values with their terms.
    func details(_ entry: TraceEntry) -> String {
        var payload = entry.event.payload
        for key in ["personal", "override", "exceptions"] { payload[key] = nil }
        let members = payload.members.sorted { $0.key < $1.key }
        guard !members.isEmpty else { return "" }
        var html = "<dl class=\"details\">"
        for (key, value) in members {
            let label = Self.fieldLabels[key].map { e($0) + " <span class=\"term\">\(e(key))</span>" } ?? "<span class=\"term\">\(e(key))</span>"
            html += "<div><dt>\(label)</dt><dd>\(valueText(value))</dd></div>"
        }
        return html + "</dl>"
    }

    func valueText(_ value: JSONValue) -> String {
        switch value {
        case .string(let text):
            if let id = UUID(uuidString: text), let target = entries[id] { return "针对" + ref(id) + "（" + kindName(target.event.type) + "）" }
            if let label = Self.valueLabels[text] ?? Self.kindLabels[text] { return e(label) + " <span class=\"term\">\(e(text))</span>" }
            return e(text)
        case .integer(let number): return String(number)
        case .bool(let flag): return flag ? "是" : "否"
        case .null: return "—"
        case .array(let list): return list.isEmpty ? "—" : list.map(valueText).joined(separator: "、")
        case .object, .fraction: return "<span class=\"mono\">\(e(value.canonicalText))</span>"
        }
    }

    // MARK: Verification

    func verificationSection() -> String {
        let number = report.current == nil ? "三" : "四"
        var html = "<section id=\"verify\">\n<h2>\(number)、离线核验所附证据包 <span class=\"term\">how to verify the attached bundle offline</span></h2>\n"
        guard let bundle = report.bundle else {
            return html + "<p>本报告未附证据包" + (report.bundleAbsence.map { "：<span class=\"reason\">" + e($0) + "</span>" } ?? "。") + "</p>\n"
                + "<p class=\"note\">最新检查点覆盖该记录后，可用 <span class=\"mono\">dossier export \(e(report.subject)) --to FILE --report FILE.html</span> "
                + "取得证据包与注明其 SHA-256 的报告。</p>\n</section>\n"
        }
        let checkpoint = bundle.checkpoint
        html += "<table class=\"facts\">\n"
        html += "<tr>\(th("证据包文件", "bundle file"))<td class=\"mono\">\(e(bundle.fileName))（\(bundle.byteCount) 字节）</td></tr>\n"
        html += "<tr>\(th("文件 SHA-256", "sha256"))<td class=\"mono\" id=\"bundle-sha256\">\(e(bundle.sha256))</td></tr>\n"
        html += "<tr>\(th("所含记录", "stream"))<td><span class=\"mono\">\(e(bundle.stream.rawValue))</span>，共 \(bundle.eventIDs.count) 个事件"
            + (bundle.complete ? "，已证明完整（检查点签署了该记录的最后一项）" : "，<b>未证明完整</b>") + "</td></tr>\n"
        html += "<tr>\(th("检查点", "checkpoint"))<td>日志共 <b id=\"checkpoint-size\">\(checkpoint.size)</b> 个事件，签署于 "
            + "<span class=\"mono\">\(e(checkpoint.time.description))</span>，来源 <span class=\"mono\">\(e(checkpoint.origin))</span></td></tr>\n"
        html += "<tr>\(th("日志树根", "root, base64"))<td class=\"mono\" id=\"checkpoint-root\">\(e(checkpoint.root.base64))</td></tr>\n"
        html += "<tr>\(th("日志树根", "root, hex"))<td class=\"mono\">\(e(checkpoint.root.hex))</td></tr>\n"
        if let heads = checkpoint.heads {
            html += "<tr>\(th("记录末项树根", "heads root"))<td>共 \(heads.count) 个记录流 <span class=\"term\">streams</span>，树根 "
                + "<span class=\"mono\">\(e(heads.root.base64))</span></td></tr>\n"
        }
        html += "<tr>\(th("签名公钥", "public key"))<td class=\"mono\">\(e(bundle.publicKey))</td></tr>\n"
        for older in bundle.linked {
            html += "<tr>\(th("延续的检查点", "extends"))<td>\(older.size) 个事件，签署于 <span class=\"mono\">\(e(older.time.description))</span>，"
                + "树根 <span class=\"mono\">\(e(older.root.base64))</span></td></tr>\n"
        }
        html += "</table>\n"
        let file = shellQuote(bundle.fileName)
        html += "<h3>核验步骤</h3>\n<ol class=\"steps\">\n"
        html += "<li>核对文件未被替换：计算证据包的 SHA-256，应与上表一致。"
            + "<pre class=\"cmd\">sha256sum \(e(file))</pre></li>\n"
        html += "<li>取得账本签名公钥的独立副本（向账本管理方另行索取，或使用早先保存的 <span class=\"mono\">checkpoint.key.pub</span>），"
            + "核对与上表公钥一致，保存为 <span class=\"mono\">dossier.pub</span>。</li>\n"
        html += "<li>用 Dossier 核验（无需数据库与网络）："
            + "<pre class=\"cmd\">dossier verify-bundle \(e(file)) --public-key dossier.pub</pre>"
            + "通过时输出 <span class=\"mono\">bundle verified: \(bundle.eventIDs.count) events of \(e(bundle.stream.rawValue)) are in the tree of "
            + "\(checkpoint.size) events signed by \(e(bundle.keyName)) …, and they are the whole record …</span>，退出码 0；不通过时输出 "
            + "<span class=\"mono\">bundle REFUSED: …</span>，退出码 4。</li>\n"
        html += "<li>用独立核验程序复核（与 Dossier 不共用代码，只需 Python 3 标准库；程序在 Dossier 源代码的 "
            + "<span class=\"mono\">Tests/MiniVerifier/verify_bundle.py</span>，依 docs/INTEGRITY.md 编写）："
            + "<pre class=\"cmd\">python3 verify_bundle.py \(e(file)) --public-key dossier.pub</pre>"
            + "通过时输出 <span class=\"mono\">OK \(bundle.eventIDs.count) events, complete</span>，退出码 0；不通过时输出 "
            + "<span class=\"mono\">REFUSED: …</span>，退出码 1。</li>\n"
        html += "</ol>\n"
        html += "<h3>通过意味着什么</h3>\n<p>核验通过证明：证据包中的 \(bundle.eventIDs.count) 个事件与账本日志中记录的内容逐字节一致，"
            + "均包含在上述检查点（\(checkpoint.size) 个事件，树根如上）所签署的 Merkle 树中；检查点由上述公钥签名；"
            + "该记录没有任何事件被删去、插入或改动（首项、中间与最后一项均已证明）；包中附带的个人信息（\(bundle.personalOpened) 项）与事件中的承诺值相符。"
            + "本报告正文中的每一项决定都可在证据包中按事件编号找到。</p>\n"
        html += "<p>核验不证明：决定本身是否正确、合规；公钥是否确属该账本（须以独立渠道核对公钥）；"
            + "检查点之后录入的决定（须以更新的证据包核验）。本报告由证据包之外的程序生成，报告与证据包不一致时，以通过核验的证据包为准。</p>\n"
        return html + "</section>\n"
    }

    func closing() -> String {
        "<footer class=\"closing\">本报告由 Dossier 于 \(e(Self.second(report.generatedAt))) 应 \(e(report.reader.name))"
            + "（\(e(Self.roleLabel(report.reader.role)))）之请求生成；读取已记入账本访问日志。"
            + (report.personal?.withheld == true ? "按该角色权限，报告不含姓名等个人信息。" : "")
            + "</footer>\n"
    }

    // MARK: Words

    func th(_ label: String, _ term: String) -> String { "<th>\(e(label)) <span class=\"term\">\(e(term))</span></th>" }

    /// A machine value with its Chinese label first, when there is one.
    static func term(_ value: String, _ labels: [String: String]) -> String {
        guard let label = labels[value] else { return escape(value) }
        return escape(label) + " <span class=\"term\">\(escape(value))</span>"
    }

    static func roleLabel(_ role: String) -> String {
        let labels = ["hr": "人事部门 hr", "reviewer": "申诉复核人员 reviewer", "auditor": "审计人员 auditor", "admin": "管理员 admin"]
        return labels[role] ?? role
    }

    static let kindLabels: [String: String] = [
        "hire": "聘用", "level-change": "等级调整", "post-change": "职务变动", "transfer": "调动", "assessment": "年度考核",
        "qualification": "取得职业资格", "training": "培训", "secondment": "借调", "secondment-end": "借调结束",
        "temporary-post": "挂职", "temporary-post-end": "挂职结束", "misconduct": "违纪违规", "fault-tolerance": "容错纠错认定",
        "dismissal": "辞退", "resignation": "辞职", "retirement": "退休", "civil-service": "录用为公务员",
        "public-institution": "纳入事业编制", "street-leadership": "选任街道领导班子", "appeal-ruling": "申诉复核决定",
        "correction": "更正", "rescission": "撤销", "selection": "选拔", "appeal": "申诉", "erasure": "个人信息删除",
        "population": "人口数", "policy": "政策参数",
    ]

    static let statusLabels: [String: String] = [
        "active": "在岗", "seconded": "借调中", "exited": "已离开队伍", "not-hired": "尚未聘用",
    ]
    static let postLabels: [String: String] = ["principal": "正职", "deputy": "副职", "staff": "工作人员"]
    static let roleValueLabels: [String: String] = [
        "party-secretary": "党组织书记", "committee-director": "居委会主任", "secretary-director": "书记、主任一肩挑",
        "deputy-secretary": "党组织副书记", "deputy-director": "居委会副主任", "committee-member": "委员", "staff": "工作人员",
        "first-secretary": "第一书记",
    ]
    static let establishmentLabels: [String: String] = ["community-worker": "社区工作者", "public-institution": "事业编制"]
    static let eligibilityLabels: [String: String] = [
        "level-up": "晋升一级", "public-institution": "纳入事业编制", "exit-review": "退出审查",
    ]

    /// Labels of the enumerated values decisions carry.
    static let valueLabels: [String: String] = [
        "excellent": "优秀", "competent": "称职", "basically-competent": "基本称职", "incompetent": "不称职",
        "assistant-social-worker": "助理社会工作师", "social-worker": "社会工作师", "senior-social-worker": "高级社会工作师",
        "initial": "初任培训", "on-the-job": "在岗培训", "special": "专题培训", "practical": "实务培训",
        "street": "街道", "township": "乡镇", "county": "县级", "city": "市级", "province": "省级", "central": "中央",
        "none": "无", "warning": "警告", "demerit": "记过", "major-demerit": "记大过",
        "excused": "免责", "mitigated": "减轻", "not-excused": "不予免责", "upheld": "维持", "overturned": "推翻",
        "seniority": "年资", "assessment": "考核", "education": "学历", "qualification": "职业资格", "other": "其他",
        "secondary": "中专/高中", "associate": "大专", "bachelor": "本科", "master": "硕士", "doctorate": "博士",
        "principal": "正职", "deputy": "副职", "staff": "工作人员", "party-secretary": "党组织书记",
        "committee-director": "居委会主任", "secretary-director": "书记、主任一肩挑", "deputy-secretary": "党组织副书记",
        "deputy-director": "居委会副主任", "committee-member": "委员", "first-secretary": "第一书记",
        "cadre": "机关干部", "new-civil-servant": "新录用公务员",
    ]

    static let fieldLabels: [String: String] = [
        "level": "等级", "grounds": "依据", "post": "职务", "role": "岗位", "community": "社区", "street": "街道", "district": "区",
        "city": "市", "education": "学历", "year": "年度", "grade": "考核等次", "certificate": "职业资格", "kind": "类别",
        "hours": "学时", "to": "借调单位", "toLevel": "借调层级", "until": "截止日期", "approval": "批准文号",
        "homeAgency": "派出单位", "description": "情况说明", "sanction": "处分", "misconduct": "所涉违纪事件", "ruling": "认定结果",
        "appealed": "被申诉决定", "outcome": "复核结果", "corrects": "被更正决定", "rescinds": "被撤销决定",
        "jurisdiction": "辖区", "effective": "生效日期", "correctedEffective": "更正后生效日期", "against": "申诉针对",
        "selected": "入选", "passedOver": "未入选", "criteria": "条件", "for": "选拔类别", "worker": "工号",
        "erased": "删除条数",
    ]

    // MARK: Escaping and formats

    func e(_ text: String) -> String { Self.escape(text) }

    /// Text for an HTML element or a quoted attribute: `& < > " '` as character references.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// A CSS string literal: every character but letters, digits, space and non-ASCII written as
    /// a hex escape, so nothing in it can end the string or the style element.
    func cssString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            let isPlain = (scalar.value >= 0x80 && scalar.properties.generalCategory != .control
                && scalar.properties.generalCategory != .format && scalar.value != 0x2028 && scalar.value != 0x2029)
                || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == " "
            out += isPlain ? String(scalar) : "\\" + String(scalar.value, radix: 16) + " "
        }
        return out + "\""
    }

    /// A file name for a POSIX shell command line (single-quoted unless plainly safe).
    func shellQuote(_ name: String) -> String {
        let safe = name.unicodeScalars.allSatisfy { scalar in
            scalar.value >= 0x80 || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || "-_./+".unicodeScalars.contains(scalar)
        }
        let local = name.hasPrefix("-") ? "./" + name : name
        return safe && !name.isEmpty ? local : "'" + local.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `2026-11-30 22:50:01 UTC`.
    static func second(_ time: Timestamp) -> String {
        let text = time.description
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(8)) + " UTC"
    }

    /// `2026-11-30 22:50 UTC`.
    static func minute(_ time: Timestamp) -> String {
        let text = time.description
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5)) + " UTC"
    }
}
