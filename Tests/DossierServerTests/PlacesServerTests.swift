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

/// `GET /api/places`: the gazetteer on a date, as `dossier places --json` gives it.
@Suite("GET /api/places", .serialized)
struct PlacesServerTests {
    @Test("the tree on a date for a clerk and an auditor; a misspelt district posted is 422-refused with did-you-mean; bad asOf is 400")
    func places() async throws {
        let ledger = try ServedLedger()
        let (clerk, auditor) = (ledger.clerk, ledger.auditor)
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            // The clerk of 上海/黄浦区 records its streets and communities; the city and district by the admin.
            let admin = Ledger(ledger.configuration)
            for text in [
                #"{"decision":"place","action":"establish","kind":"city","name":"上海","effective":"2000-01-01","authority":"a","reference":"P1"}"#,
                #"{"decision":"place","action":"establish","kind":"district","name":"黄浦区","within":"上海","effective":"2000-01-01","authority":"a","reference":"P2"}"#,
            ] {
                _ = try await admin.record(try DecisionCodec.decode(json: text))
            }
            for text in [
                #"{"decision":"place","action":"establish","kind":"street","name":"五里桥街道","within":"上海/黄浦区","effective":"2000-01-01","authority":"a","reference":"P3"}"#,
                #"{"decision":"place","action":"establish","kind":"community","name":"桥二居民区","within":"上海/黄浦区/五里桥街道","effective":"2010-01-01","authority":"a","reference":"P4"}"#,
            ] {
                let created = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: text))
                #expect(created.status == .created, "\(created.text)")
            }
            let misspelt = hire("W-1").replacingOccurrences(of: "\"黄浦区\"", with: "\"黄埔区\"")
            let refused = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: misspelt))
            #expect(refused.status.code >= 400 && refused.text.contains("did you mean 黄浦区?"), "\(refused.text)")
            let listed = try await client.execute(uri: "/api/places?asOf=2005-01-01", method: .get, headers: [.cookie: cookie])
            #expect(listed.status == .ok, "\(listed.text)")
            #expect(listed.text.contains("上海/黄浦区/五里桥街道") && !listed.text.contains("桥二居民区"), "\(listed.text)")
            let (auditorCookie, _) = try await login(client, auditor)
            let audited = try await client.execute(uri: "/api/places?asOf=2005-01-01", method: .get, headers: [.cookie: auditorCookie])
            #expect(audited.status == .ok && audited.text == listed.text, "\(audited.text)")
            let bad = try await client.execute(uri: "/api/places?asOf=2021-02-30", method: .get, headers: [.cookie: cookie])
            #expect(bad.status == .badRequest && bad.json?["parameter"]?.stringValue == "asOf", "\(bad.text)")
            let document = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(document.text.contains("\"/api/places\"") && document.text.contains("\"Place\""))
        }
    }
}
