import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Decisions are judged under the locks that keep their verdict true until they commit
/// (issue 15, defects 1, 2 and the "record during an import" message).
@Suite("Judged under the lock")
struct JudgedUnderLockTests {
    /// An import of `lines`, held open (inside its transaction, holding the import barrier) after
    /// its first chunk until `release` is signalled.
    final class HeldImport: @unchecked Sendable {
        let firstChunk = Flag()
        let release = DispatchSemaphore(value: 0)
        let task: Task<Importer.Report, Error>

        /// Returns once the first chunk is appended (polling: a test must not block a thread of
        /// the cooperative pool).
        func firstChunkAppended() async throws {
            while !firstChunk.isSet { try await Task.sleep(for: .milliseconds(10)) }
        }

        init(_ configuration: DatabaseConfiguration, _ decisions: [Decision]) {
            let state = Chunks(decisions.enumerated().map { Importer.Line(number: $0.offset + 1, decision: .success($0.element)) })
            let (done, release) = (firstChunk, self.release)
            task = Task {
                try await Importer(configuration).run(
                    chunks: {
                        if let first = state.take() { return first }
                        // The first chunk is appended: the import holds the barrier until it commits.
                        done.set()
                        release.wait()  // on the importer's own queue, not the cooperative pool
                        return nil
                    }, skipInvalid: false)
            }
        }

        final class Flag: @unchecked Sendable {
            private let lock = NSLock()
            private var value = false
            var isSet: Bool { lock.withLock { value } }
            func set() { lock.withLock { value = true } }
        }

        final class Chunks: @unchecked Sendable {
            var lines: [Importer.Line]?
            init(_ lines: [Importer.Line]) { self.lines = lines }
            func take() -> [Importer.Line]? {
                defer { lines = nil }
                return lines
            }
        }
    }

    /// Waits until some session of the test database waits on a lock (the decision queued behind
    /// the import).
    static func waitForLockWaiter(_ configuration: DatabaseConfiguration) async throws {
        let admin = try adminConnection(configuration)
        for _ in 0..<200 {
            let waiting = try admin.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar(Int64.self) ?? 0
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("no session ever waited on a lock")
    }

    @Test("rule: quota — a hire recorded while an import fills the district is judged after it, and refused")
    func hireDuringImportIsJudgedAfterIt() async throws {
        var s = try Scenario()
        // 1,112 residents: 2 community workers allowed in 黄浦区.
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1112)])
        let imported = [s.decision("hire", "W1", "2010-03-01", Scenario.hireFields()), s.decision("hire", "W2", "2010-03-01", Scenario.hireFields())]
        let importing = HeldImport(s.configuration, imported)
        try await importing.firstChunkAppended()

        let third = s.decision("hire", "W3", "2010-06-01", Scenario.hireFields())
        let ledger = s.ledger
        let hiring = Task { try await ledger.record(third) }
        try await Self.waitForLockWaiter(s.configuration)
        importing.release.signal()
        let report = try await importing.task.value
        #expect(report.committed && report.written == 2)

        do {
            let recorded = try await hiring.value
            Issue.record("the third hire was recorded at position \(recorded.position) over the quota the import filled")
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.map(\.rule) == [.quota])
        }
        #expect(try s.eventCount() == 3)

        // With an override it is recorded, as an exception that the list shows.
        let overriding = HeldImport(s.configuration, [s.decision("training", "W1", "2010-07-01", ["kind": .string("special"), "hours": .integer(4)])])
        try await overriding.firstChunkAppended()
        var fourth = s.decision("hire", "W4", "2010-08-01", Scenario.hireFields())
        fourth.override = "区委组织部批准增编"
        fourth.overrideApproval = "区委组织部〔2010〕8号"
        let overridden = Task { try await ledger.record(fourth) }
        try await Self.waitForLockWaiter(s.configuration)
        overriding.release.signal()
        _ = try await overriding.task.value
        let exception = try await overridden.value
        #expect(exception.exceptions.map(\.rule) == [.quota])
    }

    @Test("a decision for a worker an import is creating waits for the import, then is recorded")
    func decisionForImportedWorkerWaits() async throws {
        var s = try Scenario()
        let importing = HeldImport(s.configuration, [s.decision("hire", "W9", "2010-03-01", Scenario.hireFields())])
        try await importing.firstChunkAppended()
        let training = s.decision("training", "W9", "2010-05-01", ["kind": .string("special"), "hours": .integer(8)])
        let ledger = s.ledger
        let recording = Task { try await ledger.record(training) }
        try await Self.waitForLockWaiter(s.configuration)
        importing.release.signal()
        _ = try await importing.task.value
        let recorded = try await recording.value
        #expect(recorded.version == 2)
    }

    @Test("eight writers recording interleaved decisions for one worker: every one recorded, versions gapless")
    func sameStreamConcurrency() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2010-03-01")
        let writers = 8
        let each = 12
        var batches: [[Decision]] = []
        for writer in 0..<writers {
            batches.append((0..<each).map { index in
                s.decision("training", "W1", "2011-01-\(String(format: "%02d", 1 + (index + writer) % 28))", [
                    "kind": .string("special"), "hours": .integer(Int64(1 + writer)),
                ])
            })
        }
        let configuration = s.configuration
        let results = try await withThrowingTaskGroup(of: [Ledger.Recorded].self) { group in
            for batch in batches {
                group.addTask {
                    let ledger = Ledger(configuration)
                    var done: [Ledger.Recorded] = []
                    for decision in batch { done.append(try await ledger.record(decision)) }
                    return done
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == writers * each)
        #expect(results.allSatisfy { !$0.duplicate })
        let versions = try adminConnection(configuration).query(
            "SELECT version FROM dossier.events WHERE stream = 'worker/W1' ORDER BY version"
        ).rows.map { Int(try $0.decode(Int32.self, at: 0)) }
        #expect(versions == Array(1...(1 + writers * each)))
        #expect(Set(results.map(\.version)).count == writers * each)
    }

    @Test("begin_decision: only a recording role may call it, and it takes nothing but locks")
    func beginDecisionIsNoWayIn() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2010-03-01")
        try TestDatabase.register(s.configuration, user: TestDatabase.readerUser, role: "auditor")
        let auditor = try connection(s.configuration, user: TestDatabase.readerUser)
        #expect(throws: PostgresError.self) { try auditor.query("SELECT * FROM dossier.begin_decision('worker/W1')") }
        let outsider = try? connection(s.configuration, user: TestDatabase.outsiderUser)
        if let outsider {
            #expect(throws: PostgresError.self) { try outsider.query("SELECT * FROM dossier.begin_decision('worker/W1')") }
        }
        // A snapshot isolation level would judge on a stale record: refused.
        let admin = try adminConnection(s.configuration)
        try admin.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(throws: PostgresError.self) { try admin.query("SELECT * FROM dossier.begin_decision('worker/W1')") }
        try admin.executeScript("ROLLBACK")
        // Called as a recorder would, it returns the stream's version and writes nothing.
        try admin.executeScript("BEGIN")
        let version = try admin.query("SELECT o_version FROM dossier.begin_decision('worker/W1')").scalar(Int32.self)
        try admin.executeScript("COMMIT")
        #expect(version == 1)
        #expect(try count(s.configuration) == 1)
    }
}
