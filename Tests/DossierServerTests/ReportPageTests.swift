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

/// `/workers/{id}/report`: the printable record `dossier export --report` writes, served as the
/// person who logged in, with a policy that lets nothing but its inline style run.
@Suite("dossier serve: the printable record", .serialized)
struct ReportPageTests {
    @Test("a reviewer's report has the name and the bundle's SHA-256; an auditor's has no name; no checkpoint, no bundle")
    func printable() async throws {
        let ledger = try ServedLedger()
        let (clerk, auditor, reviewer) = (ledger.clerk, ledger.auditor, ledger.reviewer)
        let connectionString = ledger.configuration.connectionString
        try await ledger.test { client in
            let asClerk = try await login(client, clerk)
            let recorded = try await client.execute(
                uri: "/api/decisions", method: .post,
                headers: [.cookie: asClerk.cookie, HTTPField.Name("X-CSRF-Token")!: asClerk.csrf],
                body: ByteBuffer(string: hire("W-1", reference: "<script>alert(1)</script>")))
            #expect(recorded.status == .created || recorded.status == .ok, "\(recorded.text)")

            // Before any checkpoint: the record, and why no bundle is named.
            let asReviewer = try await login(client, reviewer)
            let early = try await client.execute(uri: "/workers/W-1/report?asOf=2021-06-30", method: .get, headers: [.cookie: asReviewer.cookie])
            #expect(early.status == .ok, "\(early.text)")
            #expect(early.headers[.contentType] == "text/html; charset=utf-8")
            #expect(early.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'; style-src 'unsafe-inline'") == true)
            #expect(early.text.contains("<html lang=\"zh-CN\">") && early.text.contains("朱虹") && early.text.contains("本报告未附证据包："))
            #expect(early.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !early.text.contains("<script"))
            #expect(early.text.contains("<td>2021-06-30</td>"))

            // After a checkpoint: the bundle the download serves, by its SHA-256.
            _ = try Integrity.checkpoint(try PostgresConnection(connectionString: connectionString), key: SigningKey(name: "tests"))
            let report = try await client.execute(uri: "/workers/W-1/report", method: .get, headers: [.cookie: asReviewer.cookie])
            let bundle = try await client.execute(uri: "/api/workers/W-1/bundle", method: .get, headers: [.cookie: asReviewer.cookie])
            let digest = RecordReport.Bundle(
                fileName: "bundle.json", bytes: Array(bundle.body.readableBytesView),
                verified: try EvidenceBundle.verify(Array(bundle.body.readableBytesView)))
            #expect(report.text.contains("<td class=\"mono\" id=\"bundle-sha256\">\(digest.sha256)</td>"), "\(report.text)")
            #expect(report.text.contains(reviewer + "（申诉复核人员 reviewer）"))

            // The auditor: no name.
            let asAuditor = try await login(client, auditor)
            let audited = try await client.execute(uri: "/workers/W-1/report", method: .get, headers: [.cookie: asAuditor.cookie])
            #expect(audited.status == .ok && !audited.text.contains("朱虹") && audited.text.contains("本角色无权查阅个人信息"))
            // The worker page links it, with the date asked for.
            let page = try await client.execute(uri: "/workers/W-1?asOf=2021-06-30", method: .get, headers: [.cookie: asAuditor.cookie])
            #expect(page.text.contains("href=\"/workers/W-1/report?asOf=2021-06-30\""), "\(page.text)")
            // Other pages keep their policy.
            #expect(page.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'self'") == true)
            // Bad parameters: named.
            let bad = try await client.execute(uri: "/workers/W-1/report?asOf=2021-02-30", method: .get, headers: [.cookie: asAuditor.cookie])
            #expect(bad.status == .badRequest)
        }
    }
}
