import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// The rebuild folds streams on several threads: the split must not change a byte of what it
/// writes, nor the order it writes it in.
@Suite("Parallel rebuild")
struct ParallelRebuildTests {
    /// Every projection table as text, each in the order its rows were written (physical order
    /// of freshly made tables, without the row addresses, which depend on how many COPYs wrote
    /// them) and sorted, so both the content and the order are compared.
    static func tables(_ connection: PostgresConnection) throws -> [String: String] {
        var tables: [String: String] = [:]
        for projection in ProjectionName.allCases {
            let table = PostgresQuery(unsafeSQL: "dossier_read." + projection.table)
            let columns = PostgresQuery(unsafeSQL: projection.columnsForComparison)
            tables[projection.rawValue + " (sorted)"] =
                try connection.query("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM (SELECT \(fragment: columns) FROM \(fragment: table)) t")
                .scalar(String.self) ?? ""
            tables[projection.rawValue] =
                try connection.query(
                    "SELECT coalesce(string_agg(ROW(\(fragment: columns))::text, E'\\n' ORDER BY ctid), '') FROM \(fragment: table)"
                ).scalar(String.self) ?? ""
        }
        return tables
    }

    /// The worker snapshots, decoded, by stream.
    static func snapshots(_ connection: PostgresConnection) throws -> [String: WorkerStateSnapshot] {
        var snapshots: [String: WorkerStateSnapshot] = [:]
        for row in try connection.query("SELECT stream, version, policy_version, format, state::text FROM dossier_read.worker_snapshots").rows {
            let snapshot = try JSONDecoder().decode(WorkerStateSnapshot.self, from: Data(try row.decode(String.self, at: 4).utf8))
            #expect(Int(try row.decode(Int32.self, at: 1)) == snapshot.version)
            #expect(Int(try row.decode(Int32.self, at: 2)) == snapshot.policyVersion)
            snapshots[try row.decode(String.self, at: 0)] = snapshot
        }
        return snapshots
    }

    static func ledger() throws -> DatabaseConfiguration {
        let configuration = try TestDatabase.create()
        // 3 districts of 70 workers: 210 worker streams and their histories, 2012–2020.
        let sample = try CommandRunner.sample(seed: 21, workers: 70, from: 2012, to: 2020, districts: 3)
        let imported = try CommandRunner(database: configuration).run(["import", sample])
        #expect(imported.status == 0, "\(imported.stderr)")
        return configuration
    }

    @Test("a rebuild with 1 worker and with 4, in groups of any size, writes the same tables in the same order")
    func workersDoNotChangeTheTables() async throws {
        let configuration = try Self.ledger()
        let connection = try adminConnection(configuration)
        let streams = try connection.query("SELECT count(DISTINCT stream) FROM dossier.events").scalar(Int64.self) ?? 0
        #expect(streams > 200)
        let one = try Projector.rebuild(connection, workers: 1, groupSize: 500)
        let reference = try Self.tables(connection)
        #expect(!(reference["timeline"] ?? "").isEmpty && !(reference["audit"] ?? "").isEmpty)
        for (workers, groupSize) in [(4, 500), (4, 7), (2, 1), (3, 64)] {
            let rebuilt = try Projector.rebuild(connection, workers: workers, groupSize: groupSize)
            #expect(rebuilt.events == one.events && rebuilt.streams == one.streams)
            let tables = try Self.tables(connection)
            for (name, text) in reference {
                #expect(tables[name] == text, "\(name) differs with \(workers) workers in groups of \(groupSize)")
            }
        }
        // The worker snapshots the rebuild folds in its pass are those the snapshot refresh folds.
        let folded = try Self.snapshots(connection)
        #expect(folded.count > 200)
        _ = try connection.query("DELETE FROM dossier_read.worker_snapshots")
        try Snapshots.refresh(connection, upTo: one.position)
        #expect(try Self.snapshots(connection) == folded)
        // And the rebuild agrees with the incremental projector, row for row.
        let differences = try Projector.differencesFromRebuild(connection)
        #expect(differences.values.allSatisfy { $0 == 0 }, "\(differences)")
    }

    @Test("dossier project from zero after an import, with 4 workers, gives the tables a 1-worker rebuild gives")
    func catchUpEqualsRebuild() async throws {
        let configuration = try Self.ledger()
        var dossier = CommandRunner(database: configuration)
        dossier.environment["DOSSIER_PROJECTION_WORKERS"] = "4"
        let projected = try dossier.run(["project"])
        #expect(projected.status == 0, "\(projected.stderr)")
        let connection = try adminConnection(configuration)
        let caughtUp = try Self.tables(connection)
        #expect(!(caughtUp["timeline"] ?? "").isEmpty)
        _ = try Projector.rebuild(connection, workers: 1)
        let rebuilt = try Self.tables(connection)
        for (name, text) in rebuilt where name.hasSuffix("(sorted)") {
            #expect(caughtUp[name] == text, "\(name) differs between dossier project and a rebuild")
        }
        // Through the CLI's rebuild too, with 4 workers: the same order as 1.
        let again = try dossier.run(["rebuild"])
        #expect(again.status == 0, "\(again.stderr)")
        let cli = try Self.tables(connection)
        for (name, text) in rebuilt {
            #expect(cli[name] == text, "\(name) differs between dossier rebuild with 4 workers and a rebuild with 1")
        }
    }
}

extension ProjectionName {
    /// The columns compared (all of them).
    var columnsForComparison: String {
        switch self {
        case .timeline:
            "worker, valid_from, valid_until, recorded_from, recorded_until, status, exit_kind, post, role, level, community, "
                + "street, district, city, establishment, service_start, monthly_subsidy, level_up, level_up_reason, "
                + "public_institution, public_institution_reason, exit_review, exit_review_reason"
        case .audit:
            "position, event_id, stream, decision, effective, recorded_at, recorded_by, authority, reference, corrected, "
                + "rescinded, excused, mitigated, overturned, upheld, corrected_by, rescinded_by, overturned_by, ruled_by, "
                + "override, exceptions"
        case .assessments: "worker, year, grade, effective, event_id"
        case .levels: "worker, effective, level, grounds, event_id"
        case .assignments: "subject, kind, destination, level, community, since, planned_until, ended, event_id"
        case .quotas: "jurisdiction, year, urban_population, per_ten_thousand, quota, effective"
        }
    }
}
