import DossierDomain
import DossierServer
import DossierStore
import DossierTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresClient
import Testing

/// Issue 12 over HTTP: an assigned worker id in the answer, a cadre's record from
/// /api/workers/{id}, knownSince refused outside imports, a knowledge time before anything was known.
@Suite("The API: worker ids, cadres, knowledge time", .serialized)
struct PeopleAPITests {
    @Test("a hire without worker gets its id in `subject`; /api/workers/{id} shows a cadre; knownSince is refused; nothing-known is a 404")
    func people() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk
        let post = #"{"decision":"temporary-post","worker":"C-17","name":"汪仕敏","homeAgency":"黄浦区民政局","community":"桥二居民区","role":"first-secretary","until":"2026-06-30","kind":"cadre","effective":"2024-07-01","authority":"区委组织部","reference":"TP-1"}"#
        _ = try await Ledger(ledger.configuration).record(try DecisionCodec.decode(json: post))
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            let idless = hire("X").replacingOccurrences(of: #""worker":"X","#, with: "")
            let created = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: idless))
            #expect(created.status == .created, "\(created.text)")
            let assigned = created.json?["subject"]?.stringValue ?? ""
            #expect(assigned == WorkerSeries.defaultPrefix(of: "上海/黄浦区") + "00001", "\(created.text)")
            let shown = try await client.execute(uri: "/api/workers/\(assigned)", method: .get, headers: [.cookie: cookie])
            #expect(shown.status == .ok && shown.json?["name"]?.stringValue == "朱虹", "\(shown.text)")
            let before = try await client.execute(uri: "/api/workers/\(assigned)?knownAt=2000-01-01", method: .get, headers: [.cookie: cookie])
            #expect(before.status == .notFound && before.text.contains("nothing was known at"), "\(before.text)")
            let claimed = hire("W-9").replacingOccurrences(of: #""level":3"#, with: #""level":3,"knownSince":"2019-01-01""#)
            let refused = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: claimed))
            #expect(refused.status == .badRequest && refused.text.contains("knownSince"), "\(refused.text)")
            let cadre = try await client.execute(uri: "/api/workers/C-17?asOf=2025-01-01", method: .get, headers: [.cookie: cookie])
            #expect(cadre.status == .ok, "\(cadre.text)")
            #expect(cadre.json?["subjectKind"]?.stringValue == "cadre" && cadre.json?["status"]?.stringValue == "on-temporary-post", "\(cadre.text)")
        }
        #expect(try ledger.count() == 2)
    }
}
