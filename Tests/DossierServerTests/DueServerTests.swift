import DossierDomain
import DossierServer
import DossierStore
import DossierTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// `GET /api/due` (issue 13, what needs attention): the CLI's list as JSON, answered as the person
/// logged in (a clerk and an auditor read the same), with a 400 problem naming a bad parameter.
@Suite("GET /api/due", .serialized)
struct DueServerTests {
    @Test("items with the documented keys for a clerk and an auditor; bad asOf and jurisdiction are 400 naming the parameter")
    func due() async throws {
        let ledger = try ServedLedger()
        let (clerk, auditor) = (ledger.clerk, ledger.auditor)
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            let misconduct = #"{"decision":"misconduct","worker":"W-1","description":"台账填报不实","sanction":"warning","effective":"2021-01-01","authority":"五里桥街道","reference":"M-2021-1"}"#
            for decision in [hire("W-1"), misconduct] {
                let created = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: decision))
                #expect(created.status == .created, "\(created.text)")
            }
            // On 2021-03-02, 60 days after the misconduct: its ruling is due; so are 2020's assessment
            // and 黄浦区's population figure.
            let listed = try await client.execute(uri: "/api/due?asOf=2021-03-02", method: .get, headers: [.cookie: cookie])
            #expect(listed.status == .ok, "\(listed.text)")
            guard case .array(let list)? = try? JSONParser.parse(listed.text) else {
                Issue.record("not a JSON array: \(listed.text)")
                return
            }
            let items = list.compactMap(\.objectValue)
            let summary = items.map { [$0["due"]?.stringValue ?? "", $0["kind"]?.stringValue ?? "", $0["subject"]?.stringValue ?? ""] }
            #expect(summary == [
                ["2020-01-01", "no-population", "上海/黄浦区"], ["2021-01-01", "assessment-missing", "W-1"],
                ["2021-03-02", "fault-ruling-overdue", "W-1"],
            ], "\(summary)")
            #expect(items.allSatisfy { $0.keys == ["due", "kind", "subject", "subjectKind", "jurisdiction", "rule", "detail", "eventId"] })
            let before = try await client.execute(uri: "/api/due?asOf=2021-03-01", method: .get, headers: [.cookie: cookie])
            #expect(!before.text.contains("fault-ruling-overdue"), "\(before.text)")
            let (auditorCookie, _) = try await login(client, auditor)
            let audited = try await client.execute(uri: "/api/due?asOf=2021-03-02", method: .get, headers: [.cookie: auditorCookie])
            #expect(audited.status == .ok && audited.text == listed.text, "\(audited.text)")
            let huangpu = try await client.execute(
                uri: "/api/due?asOf=2021-03-02&jurisdiction=%E4%B8%8A%E6%B5%B7/%E9%BB%84%E6%B5%A6%E5%8C%BA", method: .get, headers: [.cookie: cookie])
            #expect(huangpu.status == .ok && huangpu.text == listed.text, "\(huangpu.text)")
            for (query, parameter) in [("asOf=2021-02-30", "asOf"), ("asOf=soon", "asOf"), ("jurisdiction=%E7%81%AB%E6%98%9F", "jurisdiction"),
                                       ("jurisdiction=%E4%B8%8A%E6%B5%B7/", "jurisdiction")] {
                let bad = try await client.execute(uri: "/api/due?" + query, method: .get, headers: [.cookie: cookie])
                #expect(bad.status == .badRequest && bad.json?["parameter"]?.stringValue == parameter, "\(query): \(bad.text)")
            }
            // The OpenAPI document describes it.
            let document = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(document.text.contains("\"/api/due\"") && document.text.contains("\"DueItem\""))
        }
    }
}
