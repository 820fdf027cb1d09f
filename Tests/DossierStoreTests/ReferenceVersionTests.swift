@testable import DossierDomain
@testable import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// `dossier.reference_version` (schema/0019): the count of the policy and jurisdiction streams'
/// events and the last one's position, kept by a trigger instead of counted at every decision.
@Suite("The reference streams' version row (issue 16)")
struct ReferenceVersionTests {
    static let counted: PostgresQuery = """
        SELECT (SELECT n FROM dossier.reference_version) = count(*)
               AND (SELECT last FROM dossier.reference_version) = coalesce(max(position), 0)
          FROM dossier.events WHERE stream = 'policy' OR stream LIKE 'jurisdiction/%'
        """

    @Test("the row says what counting says: after an import, a recorded figure, a refused place and a worker's decision")
    func rowEqualsTheCount() async throws {
        let configuration = try WorkerStateSnapshotTests.sampleLedger(workers: 6, seed: 7)
        let admin = try adminConnection(configuration)
        #expect(try admin.query(Self.counted).scalar(Bool.self) == true)
        let before = try admin.query("SELECT n, last FROM dossier.reference_version").rows[0]
        let count = try before.decode(Int64.self, at: 0)
        let ledger = Ledger(configuration)
        let figure = try await ledger.record(try DecisionCodec.decode(json: #"""
            {"decision":"population","jurisdiction":"上海/黄浦区","year":2026,"urbanPopulation":2000000,"effective":"2026-01-01","authority":"黄浦区统计局","reference":"POP-TEST-2026"}
            """#))
        #expect(try admin.query(Self.counted).scalar(Bool.self) == true)
        let after = try admin.query("SELECT n, last FROM dossier.reference_version").rows[0]
        #expect(try after.decode(Int64.self, at: 0) == count + 1 && after.decode(Int64.self, at: 1) == figure.position)
        // Refused (no such street): nothing appended, the row as it was.
        do {
            _ = try await ledger.record(try DecisionCodec.decode(json: #"""
                {"decision":"place","action":"establish","kind":"community","name":"无名居民区","within":"上海/黄浦区/无名街道","effective":"2026-01-01","authority":"a","reference":"P-TEST"}
                """#))
            Issue.record("a community in a street that does not exist was recorded")
        } catch is LedgerError {}
        #expect(try admin.query("SELECT n FROM dossier.reference_version").scalar(Int64.self) == count + 1)
        // A worker's decision leaves the row alone.
        let worker = try admin.query(
            "SELECT substr(stream, 8) FROM dossier.events WHERE event_type = 'assessment' AND payload ->> 'year' = '2024' ORDER BY position LIMIT 1"
        ).scalar(String.self)!
        let trained = try await ledger.record(try DecisionCodec.decode(json: """
            {"decision":"training","worker":"\(worker)","kind":"on-the-job","hours":8,"effective":"2026-02-01","authority":"a","reference":"T-TEST"}
            """))
        #expect(trained.position > figure.position)
        #expect(try admin.query("SELECT n FROM dossier.reference_version").scalar(Int64.self) == count + 1)
        #expect(try admin.query(Self.counted).scalar(Bool.self) == true)
    }

    @Test("a writer or reader cannot change the row (only the trigger does): refused, nothing changed")
    func nobodyWritesTheRow() throws {
        let configuration = try WorkerStateSnapshotTests.sampleLedger(workers: 5, seed: 3)
        let admin = try adminConnection(configuration)
        let before = try admin.query("SELECT n::text || '/' || last::text FROM dossier.reference_version").scalar(String.self)
        for user in [TestDatabase.writerUser, TestDatabase.readerUser] {
            expectNoPrivilege(
                [
                    "UPDATE dossier.reference_version SET n = 0",
                    "DELETE FROM dossier.reference_version",
                    "INSERT INTO dossier.reference_version VALUES (true, 0, 0)",
                    "TRUNCATE dossier.reference_version",
                    "ALTER TABLE dossier.reference_version ADD COLUMN x int",
                    "SELECT dossier.count_reference_events()",
                ], on: try connection(configuration, user: user), as: user)
        }
        #expect(try admin.query("SELECT n::text || '/' || last::text FROM dossier.reference_version").scalar(String.self) == before)
        #expect(try admin.query(Self.counted).scalar(Bool.self) == true)
    }
}
