import DossierDomain
import DossierServer
import DossierStore
import DossierTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresClient
import Testing

/// What the server's additions give a hostile person at psql: nothing. Tokens, the gateway role
/// and acting for someone else are all refused, with nothing changed.
@Suite("dossier serve: the gateway and tokens under attack from psql", .serialized)
struct GatewaySecurityTests {
    @Test("a clerk at psql cannot read tokens, resolve one, act as someone else or become a gateway")
    func clerkAtPsql() async throws {
        let ledger = try ServedLedger()
        let admin = try PostgresConnection(connectionString: ledger.configuration.connectionString)
        let reviewer = try PostgresConnection(
            connectionString: TestDatabase.connectionString(database: TestDatabase.name(of: ledger.configuration), user: ledger.reviewer))
        let issued = try People.issueToken(reviewer, person: ledger.reviewer, authority: "tests", reference: nil)
        // Not even the installing superuser (an admin) may mint a token for someone else.
        #expect(throws: StoreError.self) { try People.issueToken(admin, person: ledger.reviewer, authority: "tests", reference: nil) }
        let clerk = try PostgresConnection(
            connectionString: TestDatabase.connectionString(database: TestDatabase.name(of: ledger.configuration), user: ledger.clerk))
        let tokensBefore = try admin.query("SELECT count(*), count(revoked_at) FROM dossier.api_tokens")[0]
        let attempts: [PostgresQuery] = [
            "SELECT * FROM dossier.api_tokens",
            "SELECT dossier.token_person(\(PostgresBytea(issued.token.hash)))",
            "INSERT INTO dossier.api_tokens VALUES (gen_random_uuid(), \(ledger.clerk), \(PostgresBytea(Array(repeating: 7, count: 32))), now(), 'me', NULL, NULL)",
            "UPDATE dossier.api_tokens SET revoked_at = NULL, revoked_by = NULL",
            "DELETE FROM dossier.api_tokens",
            "SELECT set_config('role', \(ledger.reviewer), false)",
            "SELECT set_config('role', 'dossier_gateway', false)",
            "GRANT dossier_gateway TO CURRENT_USER",
            "SELECT dossier.revoke_tokens(\(ledger.reviewer), 'x', 'r-1')",
            "SELECT dossier.issue_token(\(ledger.reviewer), \(PostgresBytea(Array(repeating: 1, count: 32))), 'x', 'r-2')",
            "SELECT * FROM dossier.tokens_of(\(ledger.reviewer))",
        ]
        for attempt in attempts {
            #expect(throws: PostgresError.self, "\(attempt.sql)") { try clerk.query(attempt) }
            if clerk.transactionState != .idle { try clerk.executeScript("ROLLBACK") }
        }
        // sync_gateway is callable by anyone and grants nothing to them: still not the reviewer.
        _ = try clerk.query("SELECT dossier.sync_gateway()")
        #expect(throws: PostgresError.self) { try clerk.query("SELECT set_config('role', \(ledger.reviewer), false)") }
        #expect(try clerk.query("SELECT pg_has_role(current_user, 'dossier_gateway', 'MEMBER')").scalar(Bool.self) == false)
        let tokensAfter = try admin.query("SELECT count(*), count(revoked_at) FROM dossier.api_tokens")[0]
        #expect(try tokensBefore.decode(Int64.self, at: 0) == tokensAfter.decode(Int64.self, at: 0))
        #expect(try tokensBefore.decode(Int64.self, at: 1) == tokensAfter.decode(Int64.self, at: 1))
        // The gateway itself holds no person's rights: a login granted it reads nothing by itself.
        let rights = try admin.query(
            "SELECT has_table_privilege('dossier_gateway', 'dossier.events', 'SELECT'), has_function_privilege('dossier_gateway', 'dossier.append_to_stream(text,integer,uuid[],text[],smallint[],jsonb[],date[],text[],text[],jsonb[],bytea[],text)', 'EXECUTE')")
        #expect(try rights[0].decode(Bool.self, at: 0) == false)
        #expect(try rights[0].decode(Bool.self, at: 1) == false)
        // Every issued token is an access event; the token itself is nowhere in the log.
        let logged = try admin.query("SELECT count(*) FROM dossier.events WHERE stream = 'access' AND event_type = 'token-issued'").scalar(Int64.self)
        #expect(logged == 1)
        let leaked = try admin.query("SELECT count(*) FROM dossier.events WHERE payload::text LIKE '%' || \(issued.token.text) || '%'").scalar(Int64.self)
        #expect(leaked == 0)
    }

    @Test("imports through the API: all or nothing, refused lines by number, the person's scope applies")
    func imports() async throws {
        let ledger = try ServedLedger()
        let clerk = ledger.clerk
        try await ledger.test { client in
            let (cookie, csrf) = try await login(client, clerk)
            let headers: HTTPFields = [.cookie: cookie, HTTPField.Name("X-CSRF-Token")!: csrf, .contentType: "text/plain"]
            let good = [hire("W-11", reference: "a-1"), hire("W-12", reference: "a-2")].joined(separator: "\n")
            // An invalid line: refused with its number, nothing imported.
            let invalid = good + "\n{\"decision\":\"hire\"}\n"
            let refused = try await client.execute(uri: "/api/imports", method: .post, headers: headers, body: ByteBuffer(string: invalid))
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.json?["problems"].map { if case .array(let list) = $0 { list.count == 1 && list[0].objectValue?["line"] == .integer(3) } else { false } } == true, "\(refused.text)")
            // A line outside the clerk's district: the database refuses the whole import, naming the line.
            let outside = good + "\n" + hire("W-13", district: "徐汇区", reference: "a-3")
            let scoped = try await client.execute(uri: "/api/imports", method: .post, headers: headers, body: ByteBuffer(string: outside))
            #expect(scoped.status == .forbidden, "\(scoped.text)")
            #expect(scoped.json?["detail"]?.stringValue?.hasPrefix("line 3:") == true, "\(scoped.text)")
            #expect(try ledger.count() == 0)
            let empty = try await client.execute(uri: "/api/imports", method: .post, headers: headers, body: ByteBuffer(string: "\n \n"))
            #expect(empty.status == .badRequest, "\(empty.text)")
            // Blank lines and CRLF line ends are fine; line numbers count every line.
            let imported = try await client.execute(
                uri: "/api/imports", method: .post, headers: headers, body: ByteBuffer(string: "\r\n" + good.replacingOccurrences(of: "\n", with: "\r\n\n")))
            #expect(imported.status == .created, "\(imported.text)")
            #expect(imported.json?["written"] == .integer(2))
            let listed = try await client.execute(uri: "/api/imports", method: .get, headers: [.cookie: cookie])
            #expect(listed.text.contains("committed") && listed.text.contains("refused"), "\(listed.text)")
        }
        #expect(try ledger.count() == 2)
    }
}
