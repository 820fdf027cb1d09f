@testable import DossierDomain
@testable import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Issue 16: a decision is judged from the worker's folded state (a snapshot) when it can be, and
/// the fold stays the truth: judging from a snapshot gives the verdict and the state that judging
/// from the whole history gives, on every prefix of sampled streams. Snapshots are written by the
/// projector only and used only at the stream's and the reference streams' current versions.
@Suite("Judging from worker snapshots (issue 16)")
struct WorkerStateSnapshotTests {
    /// A ledger holding a generated district (decisions of every kind, corrections, rescissions,
    /// appeals, over 2010–2025), imported through the CLI.
    static func sampleLedger(workers: Int = 24, seed: Int = 16) throws -> DatabaseConfiguration {
        let configuration = try TestDatabase.create()
        let file = try CommandRunner.sample(seed: seed, workers: workers, from: 2010, to: 2025)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let imported = try CommandRunner(database: configuration).run(["import", file])
        #expect(imported.status == 0, "\(imported.stderr)")
        return configuration
    }

    /// Candidates to judge after a prefix: the stream's own next decision, and decisions of each
    /// kind a snapshot may judge, dated on the last effective date and a year after.
    static func candidates(after prefix: [StoredDecision], next: Decision?, worker: String, state: WorkerState) -> [Decision] {
        var out: [Decision] = []
        if let next { out.append(next) }
        let last = prefix.map(\.decision.effective).max() ?? CalendarDate(year: 2010, month: 1, day: 1)!
        let later = CalendarDate(year: min(last.year + 1, 2199), month: last.month, day: min(last.day, 28))!
        func make(_ kind: String, _ date: CalendarDate, _ fields: [(String, JSONValue)]) -> Decision? {
            var object = JSONObject([
                ("decision", .string(kind)), ("worker", .string(worker)), ("effective", .string(date.description)),
                ("authority", .string("徐汇区社会工作部")), ("reference", .string("SNAP-\(kind)-\(date)")),
            ])
            for (key, value) in fields { object[key] = value }
            return try? DecisionCodec.decode(.object(object))
        }
        let level = Int64(state.level ?? 5)
        for date in [last, later] {
            out += [
                make("training", date, [("kind", .string("special")), ("hours", .integer(8))]),
                make("assessment", date, [("year", .integer(Int64(date.year - 1))), ("grade", .string("excellent"))]),
                make("assessment", date, [("year", .integer(Int64(date.year))), ("grade", .string("competent"))]),
                make("level-change", date, [("level", .integer(level + 1)), ("grounds", .string("assessment"))]),
                make("level-change", date, [("level", .integer(level + 1)), ("grounds", .string("seniority"))]),
                make("level-change", date, [("level", .integer(max(1, level - 1))), ("grounds", .string("other"))]),
                make("qualification", date, [("certificate", .string("senior-social-worker"))]),
                make("secondment-end", date, []),
                make("misconduct", date, [("description", .string("迟到")), ("sanction", .string("warning"))]),
                make("dismissal", date, [("grounds", .string("考核不称职"))]),
                make("public-institution", date, []),
                make("transfer", date, [("community", .string("康健居民区")), ("street", .string("康健街道")), ("district", .string("徐汇区"))]),
                make(
                    "secondment", date,
                    [("to", .string("街道办")), ("toLevel", .string("street")), ("until", .string("2199-01-01")), ("approval", .string("批"))]),
            ].compactMap { $0 }
        }
        return out
    }

    /// A snapshot as it is stored and judged from: without the state's list of changes (for
    /// `dossier history`, read by no rule).
    static func judging(_ snapshot: WorkerStateSnapshot) -> WorkerStateSnapshot {
        var copy = snapshot
        copy.state.changes = []
        return copy
    }

    @Test("judging from a snapshot gives the verdict and the state judging from the history gives, on every prefix of sampled streams")
    func snapshotJudgesAsHistory() async throws {
        let configuration = try Self.sampleLedger()
        let connection = try adminConnection(configuration)
        let context = try ReferenceData.load(connection, knownAt: nil).context
        let streams = try connection.query(
            "SELECT DISTINCT stream FROM dossier.events WHERE stream LIKE 'worker/%' ORDER BY stream"
        ).rows.map { StreamID(rawValue: try $0.decode(String.self, at: 0)) }
        #expect(streams.count >= 20)
        var judged = 0
        var refused = 0
        var prefixes = 0
        for stream in streams {
            let stored = try Ledger.readDecisions(connection, stream)
            for length in 1..<stored.count {
                prefixes += 1
                let prefix = Array(stored.prefix(length))
                let snapshot = WorkerStateSnapshot(
                    worker: stream.subject, version: length, stored: prefix, context: context, policyVersion: 1)
                // What the projector writes reads back the same.
                let decoded = try JSONDecoder().decode(WorkerStateSnapshot.self, from: JSONEncoder().encode(snapshot))
                #expect(
                    decoded == Self.judging(snapshot), "\(stream.rawValue) at \(length): the snapshot does not read back as written")
                for candidate in Self.candidates(after: prefix, next: stored[length].decision, worker: stream.subject, state: snapshot.state) {
                    guard decoded.judges(candidate) else { continue }
                    let eventID = UUID()
                    guard let fromState = Evaluator.evaluate(candidate, eventID: eventID, snapshot: decoded, context: context) else {
                        Issue.record("judges() said yes but evaluate gave no verdict")
                        continue
                    }
                    let fromHistory = Evaluator.evaluate(candidate, eventID: eventID, history: prefix, context: context)
                    #expect(
                        fromState == fromHistory,
                        "\(stream.rawValue) after \(length) events, \(candidate.kind.rawValue) of \(candidate.effective): \(fromState.violations) vs \(fromHistory.violations)"
                    )
                    judged += 1
                    if !fromHistory.accepted { refused += 1 }
                    // The state after it, as the next snapshot holds it, is the fold with it.
                    let after = decoded.appending(fromState.decision, eventID: eventID, version: length + 1, context: context)
                    let folded = WorkerStateSnapshot(
                        worker: stream.subject, version: length + 1, stored: prefix + [Evaluator.pending(fromHistory.decision, eventID: eventID)],
                        context: context, policyVersion: 1)
                    #expect(
                        Self.judging(after) == Self.judging(folded),
                        "\(stream.rawValue) after \(length) events and a \(candidate.kind.rawValue): states differ")
                }
            }
        }
        // Enough of both outcomes to mean something.
        #expect(prefixes > 300 && judged > 3000 && refused > 500, "prefixes \(prefixes), judged \(judged), refused \(refused)")
    }

    @Test("a decision for a worker is judged from the projector's snapshot at the current versions, from history at any other")
    func projectorSnapshotsAreUsedOnlyWhenCurrent() async throws {
        let configuration = try Self.sampleLedger(workers: 6, seed: 5)
        let admin = try adminConnection(configuration)
        let rebuilt = try Projector.rebuild(admin)
        #expect(rebuilt.events > 0)
        let streams = try admin.query("SELECT count(DISTINCT stream) FROM dossier.events WHERE stream LIKE 'worker/%'").scalar(Int64.self)
        let written = try admin.query("SELECT count(*) FROM dossier_read.worker_snapshots").scalar(Int64.self)
        #expect(written == streams && (written ?? 0) > 0)

        // A worker on the roster now: a training for them is accepted.
        let ledger = Ledger(configuration)
        let active = try admin.query(
            "SELECT worker FROM dossier_read.worker_timeline WHERE valid_until IS NULL AND recorded_until IS NULL AND status = 'active' ORDER BY worker LIMIT 1"
        ).scalar(String.self)
        let worker = try #require(active)
        let stream = StreamID.worker(worker)
        func training(_ reference: String) throws -> Decision {
            try DecisionCodec.decode(
                .object(
                    JSONObject([
                        ("decision", .string("training")), ("worker", .string(worker)), ("effective", .string("2026-06-01")),
                        ("authority", .string("徐汇区社会工作部")), ("reference", .string(reference)), ("kind", .string("special")),
                        ("hours", .integer(8)),
                    ])))
        }
        // The projector's snapshot says, falsely, that the worker left: at the stream's version the
        // writer believes it (the projector is trusted like the read model), at any other it does not.
        let row = try #require(try admin.query("SELECT version, state::text FROM dossier_read.worker_snapshots WHERE stream = \(stream.rawValue)").rows.first)
        let version = Int(try row.decode(Int32.self, at: 0))
        var forged = try JSONDecoder().decode(WorkerStateSnapshot.self, from: Data(try row.decode(String.self, at: 1).utf8))
        forged.state.status = .exited
        forged.state.exit = .resignation
        let text = String(decoding: try JSONEncoder().encode(forged), as: UTF8.self)
        try admin.query("UPDATE dossier_read.worker_snapshots SET state = \(text)::jsonb WHERE stream = \(stream.rawValue)")
        do {
            _ = try await ledger.record(try training("SNAP-1"))
            Issue.record("the training was not judged from the snapshot at the stream's version")
        } catch let error as LedgerError {
            #expect(error.description.contains("worker-active"), "\(error)")
        }
        // At another stream version (the encoded one disagrees with the row's), the history judges.
        forged.version = version - 1
        let stale = String(decoding: try JSONEncoder().encode(forged), as: UTF8.self)
        try admin.query("UPDATE dossier_read.worker_snapshots SET state = \(stale)::jsonb WHERE stream = \(stream.rawValue)")
        let recorded = try await ledger.record(try training("SNAP-2"))
        #expect(recorded.version == version + 1 && recorded.exceptions.isEmpty)
        // And once recorded, the row is behind the stream: ignored, whatever it says.
        try admin.query("UPDATE dossier_read.worker_snapshots SET state = \(text)::jsonb, version = \(Int32(version)) WHERE stream = \(stream.rawValue)")
        let third = try await Ledger(configuration).record(try training("SNAP-3"))
        #expect(third.version == version + 2)
        // Sent again, a decision is the one recorded, not judged anew.
        let again = try await ledger.record(try training("SNAP-2"))
        #expect(again.duplicate && again.eventID == recorded.eventID)
        // The projector brings the snapshot to the stream again.
        _ = try Projector.catchUp(admin)
        let caughtUp = try admin.query("SELECT version FROM dossier_read.worker_snapshots WHERE stream = \(stream.rawValue)").scalar(Int32.self)
        #expect(caughtUp.map(Int.init) == version + 2)
    }

    @Test("a writer cannot write, change or remove a snapshot (only the projector does): refused, nothing changed")
    func writersCannotForgeSnapshots() async throws {
        let configuration = try Self.sampleLedger(workers: 6, seed: 7)
        let admin = try adminConnection(configuration)
        _ = try Projector.rebuild(admin)
        let before = try admin.query("SELECT md5(string_agg(stream || version || state::text, ',' ORDER BY stream)) FROM dossier_read.worker_snapshots").scalar(String.self)
        expectNoPrivilege(
            [
                "UPDATE dossier_read.worker_snapshots SET state = '{}'::jsonb",
                "DELETE FROM dossier_read.worker_snapshots",
                "INSERT INTO dossier_read.worker_snapshots VALUES ('worker/X', 1, 0, 1, '{}')",
                "TRUNCATE dossier_read.worker_snapshots",
                "ALTER TABLE dossier_read.worker_snapshots ADD COLUMN x int",
            ], on: try connection(configuration, user: TestDatabase.writerUser), as: "the writer")
        let after = try admin.query("SELECT md5(string_agg(stream || version || state::text, ',' ORDER BY stream)) FROM dossier_read.worker_snapshots").scalar(String.self)
        #expect(before != nil && before == after)
    }
}
