import DossierDomain
import Foundation
import Testing

/// One valid example of every decision kind (the README's table).
let examples: [String] = [
    #"{"decision":"hire","worker":"W-001","name":"朱虹","community":"桥二居民区","street":"五里桥街道","district":"黄浦区","city":"上海","post":"principal","role":"party-secretary","level":10,"education":"bachelor","effective":"2012-03-01","authority":"五里桥街道办事处","reference":"WLQ-2012-01"}"#,
    #"{"decision":"level-change","worker":"W-001","level":11,"grounds":"assessment","effective":"2025-02-01","authority":"黄浦区社会工作部","reference":"HP-L-2025-3"}"#,
    #"{"decision":"post-change","worker":"W-001","post":"principal","role":"secretary-director","effective":"2018-04-01","authority":"五里桥街道","reference":"P-2018-1"}"#,
    #"{"decision":"transfer","worker":"W-001","community":"桥一居民区","street":"五里桥街道","district":"黄浦区","effective":"2019-09-01","authority":"黄浦区社会工作部","reference":"T-2019-4"}"#,
    #"{"decision":"assessment","worker":"W-001","year":2024,"grade":"excellent","effective":"2025-01-15","authority":"五里桥街道","reference":"A-2024-17"}"#,
    #"{"decision":"qualification","worker":"W-001","certificate":"social-worker","effective":"2020-07-01","authority":"人力资源和社会保障部","reference":"Q-2020-9"}"#,
    #"{"decision":"training","worker":"W-001","kind":"on-the-job","hours":16,"effective":"2021-05-10","authority":"五里桥街道","reference":"TR-2021-2"}"#,
    #"{"decision":"secondment","worker":"W-001","to":"五里桥街道办事处","toLevel":"street","until":"2022-12-31","approval":"区委社工部批〔2022〕3号","effective":"2022-06-01","authority":"五里桥街道","reference":"S-2022-1"}"#,
    #"{"decision":"secondment-end","worker":"W-001","effective":"2022-12-31","authority":"五里桥街道","reference":"SE-2022-1"}"#,
    #"{"decision":"temporary-post","worker":"C-017","name":"汪仕敏","homeAgency":"黄浦区民政局","community":"桥二居民区","role":"first-secretary","until":"2025-06-30","kind":"cadre","effective":"2024-07-01","authority":"黄浦区委组织部","reference":"ZP-2024-5"}"#,
    #"{"decision":"temporary-post-end","worker":"C-017","effective":"2025-06-30","authority":"黄浦区委组织部","reference":"ZPE-2025-5"}"#,
    #"{"decision":"misconduct","worker":"W-001","description":"台账填报不实","sanction":"demerit","effective":"2023-05-04","authority":"五里桥街道","reference":"M-2023-2"}"#,
    #"{"decision":"fault-tolerance","worker":"W-001","misconduct":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","ruling":"excused","effective":"2023-08-01","authority":"黄浦区纪委","reference":"FT-2023-2"}"#,
    #"{"decision":"dismissal","worker":"W-001","grounds":"年度考核不称职","effective":"2024-10-01","authority":"五里桥街道","reference":"D-2024-1"}"#,
    #"{"decision":"resignation","worker":"W-001","effective":"2024-10-01","authority":"五里桥街道","reference":"R-2024-3"}"#,
    #"{"decision":"retirement","worker":"W-001","effective":"2024-10-01","authority":"五里桥街道","reference":"RT-2024-3"}"#,
    #"{"decision":"civil-service","worker":"W-001","effective":"2024-10-01","authority":"上海市公务员局","reference":"CS-2024-3"}"#,
    #"{"decision":"public-institution","worker":"W-001","effective":"2022-07-01","authority":"黄浦区人力资源和社会保障局","reference":"PI-2022-1"}"#,
    #"{"decision":"street-leadership","worker":"W-001","effective":"2024-10-01","authority":"黄浦区委组织部","reference":"SL-2024-3"}"#,
    #"{"decision":"appeal-ruling","worker":"W-001","appealed":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","outcome":"overturned","effective":"2024-12-01","authority":"黄浦区人事争议仲裁委员会","reference":"AR-2024-9"}"#,
    #"{"decision":"correction","worker":"W-001","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","grade":"competent","effective":"2029-03-01","authority":"黄浦区社会工作部","reference":"C-2029-1"}"#,
    #"{"decision":"rescission","worker":"W-001","rescinds":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","grounds":"记录有误","effective":"2024-02-01","authority":"五里桥街道","reference":"RS-2024-1"}"#,
    #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2024,"urbanPopulation":530000,"effective":"2024-01-01","authority":"黄浦区统计局","reference":"POP-2024"}"#,
    #"{"decision":"policy","jurisdiction":"上海/黄浦区","parameters":{"levelUpMinServiceYears":3},"effective":"2026-01-01","authority":"黄浦区社会工作部","reference":"HP-2026-1"}"#,
    #"{"decision":"selection","jurisdiction":"上海/黄浦区","for":"public-institution","selected":["W-001"],"passedOver":["W-002","W-003"],"criteria":"任职满十年，考核优秀","effective":"2020-06-01","authority":"黄浦区委组织部","reference":"黄浦选拔〔2020〕1号"}"#,
    #"{"decision":"appeal","worker":"W-002","against":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","grounds":"评分有误","effective":"2020-07-01","authority":"本人","reference":"SS-2020-1"}"#,
    #"{"decision":"place","action":"establish","kind":"district","name":"黄浦区","within":"上海","effective":"2000-01-01","authority":"上海市人民政府","reference":"沪府〔2000〕2号"}"#,
    #"{"decision":"place","action":"merge","kind":"community","name":"桥三居民区","within":"上海/黄浦区/五里桥街道","into":"上海/黄浦区/五里桥街道/桥二居民区","effective":"2020-01-01","authority":"黄浦区人民政府","reference":"黄府〔2020〕9号"}"#,
]

@Suite("Decisions from JSON")
struct CodecTests {
    @Test("every kind has an example that decodes")
    func everyKind() throws {
        let kinds = try examples.map { try DecisionCodec.decode(json: $0).kind }
        #expect(Set(kinds) == Set(DecisionKind.allCases))
    }

    @Test("what is stored reads back as the same decision", arguments: examples)
    func storedRoundTrip(example: String) throws {
        var decision = try DecisionCodec.decode(json: example)
        let event = RecordedEvent(
            position: 1, stream: decision.stream, version: 1, eventID: UUID(), type: decision.kind.rawValue,
            schemaVersion: DecisionCodec.currentSchemaVersion(of: decision.kind), payload: DecisionCodec.payload(of: decision),
            effective: decision.effective, recordedAt: Timestamp(microsecondsSinceEpoch: 0), recordedBy: "t",
            authority: decision.authority, reference: decision.reference)
        let back = try DecisionCodec.decision(from: event)
        decision.personal = nil
        #expect(back == decision)
        // No personal data in the payload (a place's name is the place's, not a person's).
        #expect(event.payload["name"] == nil || decision.kind == .place)
    }

    @Test(
        "bad input names the field and what was expected",
        arguments: [
            (#"{"decision":"hire"}"#, "name"),
            (#"{"decision":"assessment","worker":"W","year":2024,"grade":"great","effective":"2025-01-01","authority":"a","reference":"r"}"#, #"field "grade": expected one of"#),
            (#"{"decision":"assessment","worker":"W","year":"2024","grade":"excellent","effective":"2025-01-01","authority":"a","reference":"r"}"#, #"field "year": expected a whole number"#),
            (#"{"decision":"assessment","worker":"W","year":2026,"grade":"excellent","effective":"2025-01-01","authority":"a","reference":"r"}"#, "cannot take effect"),
            (#"{"decision":"level-change","worker":"W","level":19,"grounds":"other","effective":"2025-01-01","authority":"a","reference":"r"}"#, "from 1 to 18, found 19"),
            (#"{"decision":"level-change","worker":"W","level":2.5,"grounds":"other","effective":"2025-01-01","authority":"a","reference":"r"}"#, "found 2.5"),
            (#"{"decision":"training","worker":"W","kind":"initial","hours":8,"effective":"2025-02-29","authority":"a","reference":"r"}"#, "not a real calendar date"),
            (#"{"decision":"training","worker":"W","kind":"initial","hours":8,"effective":"2025-01-01","authority":"a","reference":"r","color":"red"}"#, #"field "color": is not a field of a training decision"#),
            (#"{"decision":"promotion","worker":"W"}"#, "unknown decision kind"),
            (#"{"decision":"training","worker":"W 1","kind":"initial","hours":8,"effective":"2025-01-01","authority":"a","reference":"r"}"#, "must not contain spaces"),
            (#"{"decision":"training","worker":"W","kind":"initial","hours":8,"effective":"2025-01-01","authority":"   ","reference":"r"}"#, "must not be blank"),
            (#"{"decision":"training","worker":"W","kind":"initial","hours":8,"effective":"2025-01-01","authority":"a\u0007","reference":"r"}"#, "control characters"),
            (#"{"decision":"fault-tolerance","worker":"W","misconduct":"not-a-uuid","ruling":"excused","effective":"2025-01-01","authority":"a","reference":"r"}"#, "expected an event id"),
            (#"{"decision":"secondment","worker":"W","to":"x","toLevel":"street","until":"2024-01-01","effective":"2025-01-01","authority":"a","reference":"r"}"#, "must be after the effective date"),
            (#"{"decision":"policy","jurisdiction":"上海","parameters":{"quotaPerTenThousand":0,"color":1},"effective":"2025-01-01","authority":"a","reference":"r"}"#, "parameters.color"),
            (#"{"decision":"population","jurisdiction":"上海/黄浦区/外滩","year":2024,"urbanPopulation":1,"effective":"2025-01-01","authority":"a","reference":"r"}"#, "City/District"),
            (#"{"decision":"correction","worker":"W","corrects":"0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f10","effective":"2025-01-01","authority":"a","reference":"r"}"#, "at least one corrected field"),
            (#"["hire"]"#, "must be a JSON object"),
            (#"{"decision":"hire","#, "malformed JSON"),
        ])
    func badInput(json: String, expected: String) {
        let error = #expect(throws: InvalidDecision.self) { try DecisionCodec.decode(json: json) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test("every problem of a decision is reported, not only the first")
    func allProblems() {
        let error = #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: #"{"decision":"hire","worker":"W","level":0,"post":"boss","effective":"x","extra":1}"#)
        }
        let fields = Set(error?.problems.compactMap(\.field) ?? [])
        #expect(fields.isSuperset(of: ["level", "post", "effective", "extra", "name", "authority", "reference"]))
    }

    @Test("injection strings and Chinese text are data, in every text field")
    func hostileText() throws {
        let nasty = "'); DROP TABLE dossier.events; -- 社区"
        let json = JSONObject([
            ("decision", .string("misconduct")), ("worker", .string("王-\(nasty.prefix(2))")), ("description", .string(nasty)),
            ("sanction", .string("warning")), ("effective", .string("2024-01-01")), ("authority", .string(nasty)),
            ("reference", .string(nasty)), ("override", .string(nasty)), ("overrideApproval", .string(nasty)),
        ])
        let decision = try DecisionCodec.decode(.object(json))
        #expect(decision.authority == nasty)
        #expect(decision.reference == nasty)
        #expect(decision.override == nasty)
        #expect(decision.overrideApproval == nasty)
    }

    @Test("old schema versions are upgraded in code when read")
    func upcasting() throws {
        let legacy = RecordedEvent(
            position: 1, stream: .worker("W"), version: 1, eventID: UUID(), type: "level-change", schemaVersion: 1,
            payload: JSONObject([("level", .integer(5))]), effective: CalendarDate("2015-01-01")!,
            recordedAt: Timestamp(microsecondsSinceEpoch: 0), recordedBy: "legacy", authority: "a", reference: "r")
        let decision = try DecisionCodec.decision(from: legacy)
        #expect(decision.body == .levelChange(level: 5, grounds: .other))
        var future = legacy
        future.schemaVersion = 99
        #expect(throws: InvalidDecision.self) { try DecisionCodec.decision(from: future) }
    }
}
