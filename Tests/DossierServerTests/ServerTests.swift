import DossierDomain
import DossierServer
import DossierStore
import DossierTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresClient
import Testing

/// A ledger with a clerk of 黄浦区, an auditor, a reviewer and a disabled clerk, served by a real
/// server on a real socket, acting as each person through the database.
struct ServedLedger {
    let configuration: DatabaseConfiguration
    let clerk: String, auditor: String, reviewer: String, disabled: String
    let core: ServerCore

    init(connections: Int = 4, wait: Duration = .seconds(5)) throws {
        configuration = try TestDatabase.create(prefix: "srv")
        let admin = try PostgresConnection(connectionString: configuration.connectionString)
        clerk = TestDatabase.uniqueName("clerk")
        auditor = TestDatabase.uniqueName("auditor")
        reviewer = TestDatabase.uniqueName("reviewer")
        disabled = TestDatabase.uniqueName("gone")
        for (name, role, scopes) in [(clerk, People.Role.hr, ["上海/黄浦区"]), (auditor, .auditor, []), (reviewer, .reviewer, []), (disabled, .hr, ["上海"])] {
            try People.add(admin, name: name, role: role, jurisdictions: scopes, password: TestDatabase.password, authority: "tests", reference: nil)
        }
        _ = try People.disable(admin, name: disabled, authority: "tests", reference: nil)
        var logger = Logger(label: "test.serve")
        logger.logLevel = .warning
        core = ServerCore(
            configuration: configuration, settings: ServerSettings(host: "127.0.0.1", port: 0, connections: connections, connectionWait: wait),
            logger: logger)
    }

    func count() throws -> Int64 {
        try PostgresConnection(connectionString: configuration.connectionString)
            .query("SELECT count(*) FROM dossier.events WHERE stream <> 'access'").scalar(Int64.self) ?? -1
    }

    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = DossierService.makeApplication(core: core)
        try await app.test(.live) { client in try await body(client) }
    }
}

func hire(_ worker: String, district: String = "黄浦区", reference: String = "黄人社〔2020〕1号") -> String {
    """
    {"decision":"hire","worker":"\(worker)","name":"朱虹","community":"桥二居民区","street":"五里桥街道","district":"\(district)",\
    "city":"上海","post":"staff","role":"staff","level":3,"education":"bachelor","effective":"2020-01-01",\
    "authority":"黄浦区人力资源和社会保障局","reference":"\(reference)"}
    """
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: JSONObject? {
        guard case .object(let object)? = try? JSONParser.parse(text) else { return nil }
        return object
    }
}

/// Logs in through the API; returns the cookie header and the CSRF token.
func login(_ client: any TestClientProtocol, _ user: String, password: String = TestDatabase.password) async throws -> (cookie: String, csrf: String) {
    let response = try await client.execute(
        uri: "/api/login", method: .post, headers: [.contentType: "application/json"],
        body: ByteBuffer(string: #"{"user":"\#(user)","password":"\#(password)"}"#))
    #expect(response.status == .ok, "\(response.text)")
    let cookie = response.headers[.setCookie]?.split(separator: ";").first.map(String.init) ?? ""
    return (cookie, response.json?["csrf"]?.stringValue ?? "")
}

@Suite("dossier serve: the API as each person", .serialized)
struct ServerAPITests {
    @Test("no session: 401 problem from the API, a redirect to the login page from pages")
    func unauthenticated() async throws {
        let ledger = try ServedLedger()
        try await ledger.test { client in
            let api = try await client.execute(uri: "/api/roster", method: .get)
            #expect(api.status == .unauthorized)
            #expect(api.headers[.contentType]?.hasPrefix("application/problem+json") == true)
            #expect(api.json?["type"]?.stringValue == "/problems/unauthenticated")
            let page = try await client.execute(uri: "/workers/W-1?asOf=2024-01-01", method: .get)
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/login?next=%2Fworkers%2FW%2D1%3FasOf%3D2024%2D01%2D01")
            let posted = try await client.execute(uri: "/api/decisions", method: .post, body: ByteBuffer(string: hire("W-1")))
            #expect(posted.status == .unauthorized)
            let bad = try await client.execute(uri: "/api/roster", method: .get, headers: [.authorization: "Bearer nonsense"])
            #expect(bad.status == .unauthorized)
        }
        #expect(try ledger.count() == 0)
    }

    @Test("a clerk records within their district; CSRF, scope and policy refusals write nothing")
    func clerkRecords() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            // Without the CSRF token: refused, nothing written.
            let noToken = try await client.execute(uri: "/api/decisions", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: hire("W-1")))
            #expect(noToken.status == .forbidden)
            #expect(noToken.json?["type"]?.stringValue == "/problems/csrf")
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            let created = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: hire("W-1")))
            #expect(created.status == .created, "\(created.text)")
            #expect(created.json?["subject"]?.stringValue == "W-1")
            let again = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: hire("W-1")))
            #expect(again.status == .ok)
            #expect(again.json?["duplicate"] == .bool(true))
            // Another district: the database refuses; shown as a problem.
            let outside = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: hire("W-2", district: "徐汇区")))
            #expect(outside.status == .forbidden)
            #expect(outside.json?["type"]?.stringValue == "/problems/out-of-scope")
            #expect(outside.text.contains("上海/徐汇区"))
            // A policy refusal names the rule; with an override it is recorded as an exception.
            let levelUp = #"{"decision":"level-change","worker":"W-1","level":5,"grounds":"assessment","effective":"2021-06-01","authority":"黄浦区","reference":"L-1"}"#
            let refused = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: levelUp))
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.json?["overridable"] == .bool(true))
            #expect(refused.text.contains("\"rule\""))
            // An override must name its approval (issue 12): without it, 400 naming the field, nothing written.
            let unapproved = levelUp.replacingOccurrences(of: #""reference":"L-1""#, with: #""reference":"L-1","override":"区委常委会特批""#)
            let noApproval = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: unapproved))
            #expect(noApproval.status == .badRequest && noApproval.text.contains("overrideApproval"), "\(noApproval.text)")
            let overridden = levelUp.replacingOccurrences(of: #""reference":"L-1""#, with: #""reference":"L-1","override":"区委常委会特批","overrideApproval":"黄委〔2019〕5号""#)
            let recorded = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: overridden))
            #expect(recorded.status == .created, "\(recorded.text)")
            #expect(recorded.json?["exceptions"].map { if case .array(let list) = $0 { !list.isEmpty } else { false } } == true)
            // The exceptions, by effective date and the district the worker served in (issue 13).
            let huangpu = "%E4%B8%8A%E6%B5%B7/%E9%BB%84%E6%B5%A6%E5%8C%BA"
            let listed = try await client.execute(
                uri: "/api/exceptions?since=2021-06-01&until=2021-06-01&jurisdiction=\(huangpu)", method: .get, headers: [.cookie: cookie])
            #expect(listed.status == .ok, "\(listed.text)")
            let exception = (try? JSONParser.parse(listed.text)).flatMap { if case .array(let list) = $0, list.count == 1 { list[0].objectValue } else { nil } }
            #expect(exception?["reference"]?.stringValue == "L-1" && exception?["jurisdiction"]?.stringValue == "上海/黄浦区")
            #expect(exception?["rescindedBy"] == .null && exception?["correctedBy"] == .array([]) && exception?["overturnedBy"] == .null)
            #expect(exception?["overrideApproval"]?.stringValue == "黄委〔2019〕5号" && exception?["recordedBy"]?.stringValue?.isEmpty == false)
            let csvList = try await client.execute(uri: "/api/exceptions?since=2021-06-01&format=csv", method: .get, headers: [.cookie: cookie])
            #expect(csvList.status == .ok && csvList.text.hasPrefix(ReadModel.Exception.csvHeader.joined(separator: ",")), "\(csvList.text)")
            #expect(csvList.text.contains("黄委〔2019〕5号"), "\(csvList.text)")
            let later = try await client.execute(uri: "/api/exceptions?since=2021-06-02", method: .get, headers: [.cookie: cookie])
            #expect(later.status == .ok && (try? JSONParser.parse(later.text)) == .array([]), "\(later.text)")
            for (query, parameter) in [("since=2021-02-30", "since"), ("until=x", "until"), ("since=2021-06-02&until=2021-06-01", "since"),
                                       ("jurisdiction=%E7%81%AB%E6%98%9F", "jurisdiction")] {
                let bad = try await client.execute(uri: "/api/exceptions?" + query, method: .get, headers: [.cookie: cookie])
                #expect(bad.status == .badRequest && bad.json?["parameter"]?.stringValue == parameter, "\(query): \(bad.text)")
            }
            // Quota and year-end headcounts on a date, as known at a time (issue 13): no population
            // figure in 黄浦区, so its quota is unknown, not met.
            let quota = try await client.execute(uri: "/api/quota?jurisdiction=\(huangpu)&asOf=2021-12-31", method: .get, headers: [.cookie: cookie])
            let line = (try? JSONParser.parse(quota.text)).flatMap { if case .array(let list) = $0, list.count == 1 { list[0].objectValue } else { nil } }
            #expect(line?["headcount"] == .integer(1) && line?["standing"]?.stringValue == "no-figure" && line?["quota"] == .null, "\(quota.text)")
            let unknownThen = try await client.execute(uri: "/api/quota?asOf=2021-12-31&knownAt=2000-01-01", method: .get, headers: [.cookie: cookie])
            #expect(unknownThen.status == .ok && (try? JSONParser.parse(unknownThen.text)) == .array([]), "\(unknownThen.text)")
            let years = try await client.execute(uri: "/api/reports/headcount?from=2019&to=2021&jurisdiction=\(huangpu)", method: .get, headers: [.cookie: cookie])
            let counts = (try? JSONParser.parse(years.text)).flatMap { if case .array(let list) = $0 { list.compactMap { $0.objectValue?["headcount"] } } else { nil } }
            #expect(counts == [JSONValue.integer(1), JSONValue.integer(1)], "2020 and 2021 in 黄浦区 (no worker at the end of 2019): \(years.text)")
            let csv = try await client.execute(uri: "/api/reports/headcount?from=2020&to=2020&by=street&format=csv", method: .get, headers: [.cookie: cookie])
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true && csv.text.hasPrefix("year,jurisdiction,headcount,"), "\(csv.text)")
            for (query, parameter) in [("from=2021&to=2019", "to"), ("from=20x1&to=2021", "from"), ("to=2021", "from"), ("from=2020&to=2021&by=city", "by"),
                                       ("from=2020&to=2021&jurisdiction=%E7%81%AB%E6%98%9F", "jurisdiction")] {
                let bad = try await client.execute(uri: "/api/reports/headcount?" + query, method: .get, headers: [.cookie: cookie])
                #expect(bad.status == .badRequest && bad.json?["parameter"]?.stringValue == parameter, "\(query): \(bad.text)")
            }
            let unknownPlace = try await client.execute(uri: "/api/quota?jurisdiction=%E7%81%AB%E6%98%9F", method: .get, headers: [.cookie: cookie])
            #expect(unknownPlace.status == .badRequest && unknownPlace.json?["parameter"]?.stringValue == "jurisdiction", "\(unknownPlace.text)")
            // Malformed input: a clear problem naming the field, nothing written.
            for bad in ["{", #"{"decision":"hire"}"#, hire("W-3").replacingOccurrences(of: "2020-01-01", with: "2020-02-30"),
                        hire("W-3").replacingOccurrences(of: #""level":3"#, with: #""level":99"#),
                        hire("W-3").replacingOccurrences(of: #""name":"朱虹""#, with: #""name":"朱虹","salary":1"#),
                        hire("W-3'; DROP TABLE dossier.events; --")] {
                let response = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: bad))
                #expect(response.status == .badRequest, "\(bad): \(response.text)")
                #expect(response.headers[.contentType]?.hasPrefix("application/problem+json") == true)
            }
            // The record as the clerk sees it, names included; as known before the override.
            let shown = try await client.execute(uri: "/api/workers/W-1", method: .get, headers: [.cookie: cookie])
            #expect(shown.json?["name"]?.stringValue == "朱虹")
            #expect(shown.json?["level"] == .integer(5))
            let before = try await client.execute(uri: "/api/workers/W-1?asOf=2021-01-01", method: .get, headers: [.cookie: cookie])
            #expect(before.json?["level"] == .integer(3))
            let badDate = try await client.execute(uri: "/api/workers/W-1?asOf=2021-02-30", method: .get, headers: [.cookie: cookie])
            #expect(badDate.status == .badRequest)
            #expect(badDate.json?["parameter"]?.stringValue == "asOf")
            let trace = try await client.execute(uri: "/api/workers/W-1/trace", method: .get, headers: [.cookie: cookie])
            #expect(trace.text.contains("level-change"))
            let roster = try await client.execute(uri: "/api/roster?district=%E9%BB%84%E6%B5%A6%E5%8C%BA&format=csv", method: .get, headers: [.cookie: cookie])
            #expect(roster.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(roster.text.hasPrefix("worker,name,status") && roster.text.contains("W-1,朱虹"), "\(roster.text)")
            let found = try await client.execute(uri: "/api/workers?name=%E6%9C%B1", method: .get, headers: [.cookie: cookie])
            #expect(found.text.contains("W-1"), "\(found.text)")
        }
        // What was recorded is the clerk's: recorded_by is the person, the server's login beside it.
        let row = try PostgresConnection(connectionString: ledger.configuration.connectionString)
            .query("SELECT recorded_by, recorded_login FROM dossier.events WHERE stream = 'worker/W-1' ORDER BY position LIMIT 1")[0]
        #expect(try row.decode(String.self, at: 0) == clerk)
        #expect(try row.decodeIfPresent(String.self, at: 1) == "dossier_super")
        #expect(try ledger.count() == 2)
    }

    @Test("an auditor may read but not record, and sees no names")
    func auditorCannotRecord() async throws {
        let ledger = try ServedLedger()
        let (clerk, auditor) = (ledger.clerk, ledger.auditor)
        try await ledger.test { client in
            let asClerk = try await login(client, clerk)
            _ = try await client.execute(
                uri: "/api/decisions", method: .post,
                headers: [.cookie: asClerk.cookie, HTTPField.Name("X-CSRF-Token")!: asClerk.csrf], body: ByteBuffer(string: hire("W-1")))
            let (cookie, csrf) = try await login(client, auditor)
            let posted = try await client.execute(
                uri: "/api/decisions", method: .post, headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf],
                body: ByteBuffer(string: hire("W-9")))
            #expect(posted.status == .forbidden, "\(posted.text)")
            let shown = try await client.execute(uri: "/api/workers/W-1", method: .get, headers: [.cookie: cookie])
            #expect(shown.status == .ok)
            #expect(shown.json?["name"] == .null)
            #expect(shown.json?["personalData"]?.stringValue == "withheld")
            #expect(!shown.text.contains("朱虹"))
            let search = try await client.execute(uri: "/api/workers?name=%E6%9C%B1", method: .get, headers: [.cookie: cookie])
            #expect(search.status == .forbidden, "\(search.text)")
            // The page offers no form.
            let form = try await client.execute(uri: "/decisions/new", method: .get, headers: [.cookie: cookie])
            #expect(form.status == .forbidden)
            let page = try await client.execute(uri: "/workers/W-1", method: .get, headers: [.cookie: cookie])
            #expect(page.status == .ok && !page.text.contains("朱虹") && !page.text.contains("/decisions/new"))
        }
        #expect(try ledger.count() == 1)
    }

    @Test("tokens: a script acts as its person; a revoked or unknown token is refused")
    func tokens() async throws {
        let ledger = try ServedLedger()
        let clerkConnection = try PostgresConnection(
            connectionString: TestDatabase.connectionString(database: TestDatabase.name(of: ledger.configuration), user: ledger.clerk))
        let issued = try People.issueToken(clerkConnection, person: ledger.clerk, authority: "tests", reference: nil)
        // A clerk may not issue tokens for someone else.
        #expect(throws: StoreError.self) { try People.issueToken(clerkConnection, person: ledger.auditor, authority: "tests", reference: nil) }
        // The ledger keeps the hash, never the token.
        let stored = try PostgresConnection(connectionString: ledger.configuration.connectionString)
            .query("SELECT count(*) FROM dossier.api_tokens WHERE token_hash = \(PostgresBytea(issued.token.hash))").scalar(Int64.self)
        #expect(stored == 1)
        let token = issued.token.text
        try await ledger.test { client in
            let bearer: HTTPFields = [.authorization: "Bearer " + token]
            let me = try await client.execute(uri: "/api/me", method: .get, headers: bearer)
            #expect(me.json?["person"]?.stringValue == ledger.clerk)
            #expect(me.json?["jurisdictions"] == .array([.string("上海/黄浦区")]))
            // No CSRF token needed: a script is not a browser.
            let created = try await client.execute(uri: "/api/decisions", method: .post, headers: bearer, body: ByteBuffer(string: hire("W-7")))
            #expect(created.status == .created, "\(created.text)")
            let again = try PostgresConnection(
                connectionString: TestDatabase.connectionString(database: TestDatabase.name(of: ledger.configuration), user: ledger.clerk))
            _ = try People.revokeTokens(again, person: ledger.clerk, authority: "tests", reference: nil)
            let revoked = try await client.execute(uri: "/api/me", method: .get, headers: bearer)
            #expect(revoked.status == .unauthorized)
        }
        let recordedBy = try PostgresConnection(connectionString: ledger.configuration.connectionString)
            .query("SELECT recorded_by FROM dossier.events WHERE stream = 'worker/W-7'").scalar(String.self)
        #expect(recordedBy == ledger.clerk)
    }

    @Test("logins: wrong passwords, disabled people and unknown users get one answer; repeated failures are throttled")
    func loginsAndThrottle() async throws {
        let ledger = try ServedLedger()
        let (clerk, disabled) = (ledger.clerk, ledger.disabled)
        try await ledger.test { client in
            let json: HTTPFields = [.contentType: "application/json"]
            for (user, password) in [(clerk, "wrong password!"), (disabled, TestDatabase.password), ("nobody_at_all", "x"), ("dossier_super", "anything")] {
                let response = try await client.execute(
                    uri: "/api/login", method: .post, headers: json, body: ByteBuffer(string: #"{"user":"\#(user)","password":"\#(password)"}"#))
                #expect(response.status == .unauthorized, "\(user): \(response.text)")
                #expect(response.headers[.setCookie] == nil)
            }
            for _ in 0..<5 {
                _ = try await client.execute(uri: "/api/login", method: .post, headers: json, body: ByteBuffer(string: #"{"user":"\#(clerk)","password":"guess"}"#))
            }
            // Now even the right password waits.
            let throttled = try await client.execute(
                uri: "/api/login", method: .post, headers: json, body: ByteBuffer(string: #"{"user":"\#(clerk)","password":"\#(TestDatabase.password)"}"#))
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.headers[.retryAfter] != nil)
            let malformed = try await client.execute(uri: "/api/login", method: .post, headers: json, body: ByteBuffer(string: #"{"user":"a","password":"b","role":"admin"}"#))
            #expect(malformed.status == .badRequest)
            // Login CSRF: a form on another site cannot log a browser in as someone.
            let plain = try await client.execute(
                uri: "/api/login", method: .post, headers: [.contentType: "text/plain", HTTPField.Name("Origin")!: "https://evil.example"],
                body: ByteBuffer(string: #"{"user":"x","password":"y"}"#))
            #expect(plain.status == .forbidden)
            let fetched = try await client.execute(
                uri: "/api/login", method: .post, headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"],
                body: ByteBuffer(string: #"{"user":"x","password":"y"}"#))
            #expect(fetched.status == .forbidden)
            let crossSite = try await client.execute(
                uri: "/login", method: .post, headers: [HTTPField.Name("Origin")!: "https://evil.example", .contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "user=x&password=y"))
            #expect(crossSite.status == .forbidden)
            #expect(crossSite.headers[.setCookie] == nil)
        }
    }

    @Test("a person disabled while logged in is refused at the next request; the last supported date draws")
    func disabledWhileLoggedIn() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk
        let configuration = ledger.configuration
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let created = try await client.execute(
                uri: "/api/decisions", method: .post, headers: [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf], body: ByteBuffer(string: hire("W-1")))
            #expect(created.status == .created)
            // Far dates: the worker page draws up to the ledger's last year without failing.
            let far = try await client.execute(uri: "/workers/W-1?asOf=2199-12-31", method: .get, headers: [.cookie: cookie])
            #expect(far.status == .ok)
            let admin = try PostgresConnection(connectionString: configuration.connectionString)
            _ = try People.disable(admin, name: clerk, authority: "tests", reference: nil)
            for uri in ["/api/roster", "/api/workers/W-1", "/api/access-log", "/api/workers?id=W"] {
                let refused = try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie])
                #expect(refused.status == .forbidden, "\(uri): \(refused.text)")
            }
        }
    }

    @Test("browser sessions: HttpOnly SameSite=Strict cookie, CSRF on every form, logout ends the session")
    func browserSessions() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk
        try await ledger.test { client in
            let login = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "user=\(clerk)&password=correct+horse+battery&next=%2Froster"))
            #expect(login.status == .seeOther)
            #expect(login.headers[.location] == "/roster")
            let setCookie = login.headers[.setCookie] ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), "\(setCookie)")
            let cookie = String(setCookie.split(separator: ";")[0])
            // Open redirects are not followed.
            let away = try await client.execute(
                uri: "/login", method: .post, body: ByteBuffer(string: "user=\(clerk)&password=correct+horse+battery&next=%2F%2Fevil.example"))
            #expect(away.headers[.location] == "/")
            let form = try await client.execute(uri: "/decisions/new?kind=hire", method: .get, headers: [.cookie: cookie])
            #expect(form.status == .ok)
            // The decision form's own token (not the logout form's in the header).
            let csrf = form.text.components(separatedBy: "<form method=\"post\" action=\"/decisions\"")[1]
                .components(separatedBy: "name=\"csrf\" value=\"")[1].prefix(48)
            #expect(csrf.count == 48)
            // A form post without its token: 403, nothing written.
            let fields = "decision=hire&worker=W-5&name=%E6%9D%8E%E5%9B%9B&community=c&street=s&district=%E9%BB%84%E6%B5%A6%E5%8C%BA&city=%E4%B8%8A%E6%B5%B7&post=staff&role=staff&level=2&education=bachelor&effective=2021-03-01&authority=a&reference=r5"
            let forged = try await client.execute(uri: "/decisions", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: fields))
            #expect(forged.status == .forbidden)
            #expect(try ledger.count() == 0)
            let posted = try await client.execute(uri: "/decisions", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: fields + "&csrf=\(csrf)"))
            #expect(posted.status == .created, "\(posted.text)")
            #expect(try ledger.count() == 1)
            let logout = try await client.execute(uri: "/logout", method: .post, headers: [.cookie: cookie], body: ByteBuffer(string: "csrf=\(csrf)"))
            #expect(logout.status == .seeOther)
            let after = try await client.execute(uri: "/api/me", method: .get, headers: [.cookie: cookie])
            #expect(after.status == .unauthorized)
        }
    }

    @Test("health, readiness, metrics and the OpenAPI document")
    func operations() async throws {
        let ledger = try ServedLedger()
        try await ledger.test { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok, "\(ready.text)")
            #expect(ready.json?["schema"]?.stringValue == "current")
            _ = try await client.execute(uri: "/api/workers/W-1", method: .get)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.text.contains("dossier_http_requests_total{route=\"/api/workers/{id}\""), "\(metrics.text.prefix(2000))")
            #expect(metrics.text.contains("dossier_pool_wait_seconds_bucket"))
            let document = try await client.execute(uri: "/openapi.json", method: .get)
            guard case .object(let openapi)? = try? JSONParser.parse(document.text) else {
                Issue.record("openapi.json is not JSON")
                return
            }
            #expect(openapi["openapi"]?.stringValue == "3.1.0")
            let unknown = try await client.execute(uri: "/api/nothing-here", method: .get)
            #expect(unknown.status == .notFound)
            #expect(unknown.headers[.contentType]?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test("no free connection in time: 503 with Retry-After, not a hang")
    func poolBusy() async throws {
        let ledger = try ServedLedger(connections: 1, wait: .milliseconds(200))
        let core = ledger.core
        let clerk = ledger.clerk
        try await ledger.test { client in
            let (cookie, _) = try await login(client, clerk)
            // Hold the only connection for a while.
            let holder = Task { try await core.pool.with(as: nil) { _ in try await Task.sleep(for: .seconds(2)) } }
            try await Task.sleep(for: .milliseconds(100))
            let busy = try await client.execute(uri: "/api/workers/W-1", method: .get, headers: [.cookie: cookie])
            #expect(busy.status == .serviceUnavailable)
            #expect(busy.headers[.retryAfter] != nil)
            try await holder.value
            let free = try await client.execute(uri: "/api/workers/W-1", method: .get, headers: [.cookie: cookie])
            #expect(free.status == .notFound)
        }
    }
}

@Suite("dossier serve with a standby for reads")
struct ServerStandbyTests {
    @Test("a worker's record and trace are answered by the standby, including what was recorded a moment before")
    func readsOnTheStandby() async throws {
        let ledger = try ServedLedger()
        let standby = DatabaseConfiguration(
            connectionString: try TestDatabase.standbyConnectionString(database: TestDatabase.name(of: ledger.configuration)))
        var logger = Logger(label: "test.serve")
        logger.logLevel = .warning
        let core = ServerCore(
            configuration: ledger.configuration,
            settings: ServerSettings(host: "127.0.0.1", port: 0, connections: 2, standby: standby), logger: logger)
        let clerk = ledger.clerk
        let app = DossierService.makeApplication(core: core)
        try await app.test(.live) { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "application/json"]
            for index in 1...3 {
                let worker = "SBS-\(index)"
                let created = try await client.execute(uri: "/api/decisions", method: .post, headers: headers, body: ByteBuffer(string: hire(worker, reference: "SBS-\(index)")))
                #expect(created.status == .created, "\(created.text)")
                // At once: the standby has replayed the write before it answers (or the primary answers).
                let shown = try await client.execute(uri: "/api/workers/\(worker)", method: .get, headers: [.cookie: cookie])
                #expect(shown.status == .ok, "\(shown.text)")
                #expect(shown.json?["worker"]?.stringValue == worker)
                #expect(shown.json?["name"]?.stringValue == "朱虹")
                #expect(shown.headers[ServerCore.readFromHeader] == "standby", "\(shown.headers)")
                let traced = try await client.execute(uri: "/api/workers/\(worker)/trace", method: .get, headers: [.cookie: cookie])
                #expect(traced.status == .ok, "\(traced.text)")
                #expect(traced.headers[ServerCore.readFromHeader] == "standby")
            }
            let missing = try await client.execute(uri: "/api/workers/SBS-404", method: .get, headers: [.cookie: cookie])
            #expect(missing.status == .notFound)
        }
        // Every read was logged on the primary.
        let logged = try PostgresConnection(connectionString: ledger.configuration.connectionString).query(
            "SELECT count(*) FROM dossier.access_log WHERE worker LIKE 'SBS-%' AND what IN ('show', 'trace')"
        ).scalar(Int64.self)
        #expect(logged == 6)
    }
}
