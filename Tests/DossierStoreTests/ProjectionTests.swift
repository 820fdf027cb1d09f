import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Projections")
struct ProjectionTests {
    func catchUp(_ configuration: DatabaseConfiguration) async throws {
        let session = PostgresSession.open(configuration, role: .person)
        _ = try await session.run { try Projector.catchUp($0, batchSize: 7) }
    }

    func differences(_ configuration: DatabaseConfiguration) async throws -> [ProjectionName: Int] {
        try await PostgresSession.open(configuration, role: .person).run { try Projector.differencesFromRebuild($0) }
    }

    @Test("incremental projections equal a full rebuild row for row, and the pure fold on every date and knowledge time", arguments: [11 as UInt64, 12])
    func incrementalEqualsRebuildAndFold(seed: UInt64) async throws {
        var random = TestRandom(state: seed)
        var scenario = try Scenario()
        var recorded: [UUID: (String, String)] = [:]
        var times: [Timestamp] = []
        _ = try await scenario.record("policy", "上海/黄浦区", "2016-01-01", ["parameters": .object(JSONObject([("levelUpMinServiceYears", .integer(1))]))])
        for step in 0..<120 {
            let decision = PropertyTests.randomDecisions(&random, scenario: &scenario, recorded: recorded)
            if let outcome = try? await scenario.ledger.record(decision) {
                recorded[outcome.eventID] = (decision.subject, decision.kind.rawValue)
                times.append(outcome.recordedAt)
            }
            // Catch up at random points, so batches cut the history anywhere.
            if random.int(0...9) == 0 || step == 60 { try await catchUp(scenario.configuration) }
        }
        try await catchUp(scenario.configuration)
        let differences = try await differences(scenario.configuration)
        #expect(differences.values.allSatisfy { $0 == 0 }, "\(differences)")

        // Every timeline row read back equals the fold for that date and knowledge time.
        let store = EventStore(scenario.configuration)
        let reads = ReadModel(scenario.configuration)
        for worker in ["P1", "P2", "P3"] {
            let stored = try await store.readStream(.worker(worker)).map { try StoredDecision(event: $0) }
            guard !stored.isEmpty else { continue }
            for knownAt in [times[times.count / 3], times[2 * times.count / 3], nil] as [Timestamp?] {
                for asOf in ["2011-07-01", "2014-02-28", "2017-12-31", "2021-06-15", "2026-01-01"].compactMap(CalendarDate.init) {
                    let roster = try await reads.roster(place: .init(), asOf: asOf, knownAt: knownAt).filter { $0.worker == worker }
                    let state = Replay.fold(worker: worker, Replay.history(stored, knownAt: knownAt), asOf: asOf).state
                    #expect(roster.count == (state.isOnRoster ? 1 : 0), "\(worker) on \(asOf) known at \(String(describing: knownAt))")
                    if let entry = roster.first {
                        #expect(entry.level == state.level)
                        #expect(entry.community == state.placement?.community)
                        #expect(entry.status == state.status.rawValue)
                    }
                }
            }
        }
    }

    @Test("a correction recorded years after the fact: hand-computed answers as of dates and as known at times")
    func correctionYearsAfter() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-03-01", level: 5)
        let level = try await s.record("level-change", "W1", "2018-03-01", ["level": .integer(6), "grounds": .string("seniority")])
        try await Task.sleep(for: .milliseconds(10))
        let beforeCorrection = Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
        try await Task.sleep(for: .milliseconds(10))
        // Years later the 2018 change is found to have been to level 7, from 2017-09-01, on other
        // grounds (seniority moves one level a step, after three years: issue 12).
        try await s.record("correction", "W1", "2024-05-20", ["corrects": level.eventID.json, "level": .integer(7), "grounds": .string("other"), "correctedEffective": .string("2017-09-01")])
        let reads = ReadModel(s.configuration)
        func levelOn(_ date: String, _ knownAt: Timestamp?) async throws -> Int? {
            try await reads.roster(place: .init(district: "黄浦区"), asOf: CalendarDate(date)!, knownAt: knownAt).first?.level
        }
        #expect(try await levelOn("2016-01-01", nil) == 5)
        #expect(try await levelOn("2017-10-01", nil) == 7)
        #expect(try await levelOn("2017-10-01", beforeCorrection) == 5)
        #expect(try await levelOn("2018-06-01", beforeCorrection) == 6)
        #expect(try await levelOn("2018-06-01", nil) == 7)
        #expect(try await levelOn("2014-06-01", nil) == nil)
        let history = try await reads.history(worker: "W1", field: .level)
        #expect(history.effective.map(\.value) == ["5", "7"])
        #expect(history.effective.map(\.from) == [CalendarDate("2015-03-01")!, CalendarDate("2017-09-01")!])
        #expect(history.learned.count == 3, "hire, the level change, the correction")
        #expect(history.learned[1].periods.map(\.value) == ["5", "6"])
        #expect(history.learned[2].periods.map(\.value) == ["5", "7"])
        // show agrees with the read side.
        #expect(try await s.show("W1", asOf: "2017-10-01", knownAt: beforeCorrection).state.level == 5)
        #expect(try await s.show("W1", asOf: "2017-10-01").state.level == 7)
    }

    @Test("eligibility lists, quotas and exceptions answer from the projections")
    func lists() async throws {
        var s = try Scenario()
        try await s.record("population", "上海/黄浦区", "2010-01-01", ["year": .integer(2010), "urbanPopulation": .integer(1500)])
        try await s.hire("W1", "2015-03-01", level: 5)
        _ = try await s.assess("W1", 2016, "excellent")
        _ = try await s.assess("W1", 2017, "excellent")
        try await s.hire("W2", "2015-03-01", level: 5)
        let misconduct = try await s.record("misconduct", "W2", "2018-05-01", ["description": .string("x"), "sanction": .string("major-demerit")])
        try await s.hire("W3", "2016-01-01", override: "over quota by approval")
        let reads = ReadModel(s.configuration)
        #expect(try await reads.eligible(.levelUp, asOf: CalendarDate("2018-02-01")!).map(\.worker) == ["W1"])
        #expect(try await reads.eligible(.levelUp, asOf: CalendarDate("2017-02-01")!).isEmpty)
        #expect(try await reads.eligible(.exitReview, asOf: CalendarDate("2018-06-01")!).map(\.worker) == ["W2"])
        // Two years on, the major demerit no longer puts the worker up for review.
        #expect(try await reads.eligible(.exitReview, asOf: CalendarDate("2020-05-02")!).isEmpty)
        try await s.record("fault-tolerance", "W2", "2018-07-01", ["misconduct": misconduct.eventID.json, "ruling": .string("excused")])
        #expect(try await reads.eligible(.exitReview, asOf: CalendarDate("2018-08-01")!).isEmpty)
        let quota = try await reads.quota(jurisdiction: "上海/黄浦区", asOf: CalendarDate("2017-01-01")!)
        #expect(quota.first?.quota == 2)
        #expect(quota.first?.headcount == 3)
        #expect(quota.first?.gap == -1)
        let exceptions = try await reads.exceptions()
        #expect(exceptions.count == 1)
        #expect(exceptions.first?.json["rules"] == .array([.string("quota")]))
    }

    @Test("a rebuild swaps fresh tables in and keeps the documented views readable by auditors")
    func rebuildAndViews() async throws {
        var s = try Scenario()
        try await s.hire("W1", "2015-03-01")
        try await s.hire("W2", "2016-03-01")
        let session = PostgresSession.open(s.configuration, role: .person)
        let rebuilt = try await session.run { try Projector.rebuild($0) }
        #expect(rebuilt.events == 2)
        _ = try await session.run { try Projector.rebuild($0, only: [.audit]) }
        let reader = try connection(s.configuration, user: TestDatabase.readerUser)
        try reader.execute("SET ROLE dossier_reader")
        #expect(try reader.query("SELECT count(*) FROM dossier_read.roster").scalar(Int64.self) == 2)
        #expect(try reader.query("SELECT count(*) FROM dossier_read.audit_trail").scalar(Int64.self) == 2)
        for view in ["current_workers", "level_up_candidates", "public_institution_candidates", "exit_review_cases", "quota_compliance", "policy_exceptions", "open_assignments"] {
            #expect(throws: Never.self) { try reader.query("SELECT * FROM dossier_read.\(fragment: PostgresQuery(unsafeSQL: view)) LIMIT 1") }
        }
        let error = #expect(throws: PostgresError.self) { try reader.query("DELETE FROM dossier_read.audit_trail") }
        #expect(error?.sqlState == .insufficientPrivilege)
        let differences = try await differences(s.configuration)
        #expect(differences.values.allSatisfy { $0 == 0 })
    }

    @Test("killing the runner at random points never applies an event twice or skips one")
    func crashRecovery() async throws {
        let configuration = try TestDatabase.create()
        let sample = try CommandRunner.sample(seed: 5, workers: 60, from: 2014, to: 2020)
        let dossier = CommandRunner(database: configuration)
        let imported = try dossier.run(["import", sample])
        #expect(imported.status == 0, "\(imported.stderr)")
        var random = SystemRandomNumberGenerator()
        var kills = 0
        var finished = false
        var failures: [String] = []
        let watcher = try adminConnection(configuration)
        func checkpoint() throws -> Int64 {
            try watcher.query("SELECT min(position) FROM dossier_read.checkpoints").scalar(Int64.self) ?? 0
        }
        for _ in 0..<80 where !finished {
            let before = try checkpoint()
            // posix_spawn and waitpid, not Foundation's Process: its exit monitoring lags under load.
            var pid: pid_t = 0
            let argv = [CommandRunner.binDirectory().appending(path: "dossier").path, "project", "--batch", "3"]
            var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
            var cEnvironment: [UnsafeMutablePointer<CChar>?] = dossier.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                cArguments.forEach { free($0) }
                cEnvironment.forEach { free($0) }
            }
            guard posix_spawn(&pid, argv[0], nil, nil, &cArguments, &cEnvironment) == 0 else {
                Issue.record("cannot start dossier project")
                return
            }
            var status: Int32 = 0
            func exited() -> Bool { waitpid(pid, &status, WNOHANG) == pid }
            var done = false
            // Kill it once it has committed at least one batch, a little after.
            // (usleep, not Task.sleep: under a full parallel test run the pool may not wake us in time.)
            for _ in 0..<5000 {
                if exited() { done = true; break }
                if try checkpoint() != before { break }
                usleep(2000)
            }
            if !done {
                usleep(UInt32(Int.random(in: 0...40_000, using: &random)))
                if exited() {
                    done = true
                } else {
                    kill(pid, SIGKILL)
                    kills += 1
                    waitpid(pid, &status, 0)
                }
            }
            if done {
                let code = (status >> 8) & 0xff
                finished = (status & 0x7f) == 0 && code == 0
                if !finished { failures.append("exit status \(code)") }
            }
        }
        #expect(failures.isEmpty, "the runner failed: \(failures.prefix(2))")
        let events = try watcher.query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? -1
        let reached = try checkpoint()
        #expect(kills > 0, "the runner should have been killed at least once (events \(events), checkpoint \(reached))")
        try await catchUp(configuration)
        let differences = try await differences(configuration)
        #expect(differences.values.allSatisfy { $0 == 0 }, "\(differences)")
    }
}
