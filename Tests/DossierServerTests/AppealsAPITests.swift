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

/// `GET /api/appeals` (issue 13, appeals as cases): the caseload a clerk's selection and a
/// worker's appeal make, read by the auditor; its parameters refused by name.
@Suite("The appeals caseload over HTTP")
struct AppealsAPITests {
    @Test("a selection, an appeal and its ruling, then the caseload as of dates; bad parameters named")
    func caseload() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk, auditor = ledger.auditor
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            func post(_ body: String) async throws -> JSONObject? {
                let response = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == .created, "\(response.text)")
                return response.json
            }
            _ = try await post(hire("W-1", reference: "H-1"))
            _ = try await post(hire("W-2", reference: "H-2"))
            let selection = try await post(
                #"{"decision":"selection","jurisdiction":"上海/黄浦区","for":"level-review","selected":["W-1"],"passedOver":["W-2"],"criteria":"考核","effective":"2021-03-01","authority":"黄浦区","reference":"SEL-1"}"#)
            let selectionID = try #require(selection?["eventId"]?.stringValue)
            let appeal = try await post(
                #"{"decision":"appeal","worker":"W-2","against":"\#(selectionID)","grounds":"不服","effective":"2021-03-10","authority":"本人","reference":"SS-1"}"#)
            let appealID = try #require(appeal?["eventId"]?.stringValue)
            _ = try await post(
                #"{"decision":"appeal-ruling","worker":"W-2","appealed":"\#(appealID)","outcome":"upheld","effective":"2021-04-09","authority":"黄浦区人事争议仲裁委员会","reference":"AR-1"}"#)

            let (auditorCookie, _) = try await login(client, auditor)
            func caseload(_ query: String) async throws -> [JSONObject] {
                let response = try await client.execute(uri: "/api/appeals" + query, method: .get, headers: [.cookie: auditorCookie])
                #expect(response.status == .ok, "\(query): \(response.text)")
                guard case .array(let list)? = try? JSONParser.parse(response.text) else { return [] }
                return list.compactMap(\.objectValue)
            }
            let ruled = try await caseload("?asOf=2021-06-30")
            #expect(ruled.count == 1 && ruled.first?["status"] == .string("upheld") && ruled.first?["daysOpen"] == .integer(30))
            #expect(ruled.first?["against"] == .string(selectionID) && ruled.first?["againstDecision"] == .string("selection"))
            let open = try await caseload("?asOf=2021-04-01&open=true")
            #expect(open.count == 1 && open.first?["status"] == .string("open") && open.first?["daysOpen"] == .integer(22))
            #expect(try await caseload("?open=true").isEmpty)
            #expect(try await caseload("?asOf=2021-03-09").isEmpty)
            #expect(try await caseload("?jurisdiction=%E4%B8%8A%E6%B5%B7").count == 1)
            for (query, parameter) in [("asOf=2021-02-30", "asOf"), ("open=yes", "open"), ("jurisdiction=/", "jurisdiction")] {
                let bad = try await client.execute(uri: "/api/appeals?" + query, method: .get, headers: [.cookie: auditorCookie])
                #expect(bad.status == .badRequest && bad.json?["parameter"]?.stringValue == parameter, "\(query): \(bad.text)")
            }
            // The document describes the route.
            let document = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(document.text.contains("\"/api/appeals\"") && document.text.contains("\"Appeal\""))
        }
    }
}
