import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// A ledger with people: an admin (the superuser that installed it) and, per test, people added
/// through the owner's functions, each a login of the test cluster.
struct People3 {
    var scenario: Scenario
    let admin: PostgresConnection

    init() throws {
        scenario = try Scenario()
        admin = try adminConnection(scenario.configuration)
    }

    var configuration: DatabaseConfiguration { scenario.configuration }

    /// Adds a person and returns their login name.
    func add(_ prefix: String, _ role: People.Role, _ jurisdictions: [String] = []) throws -> String {
        let name = TestDatabase.uniqueName(prefix)
        try People.add(admin, name: name, role: role, jurisdictions: jurisdictions, password: "correct horse battery", authority: "tests", reference: nil)
        return name
    }

    func configuration(as person: String) throws -> DatabaseConfiguration {
        DatabaseConfiguration(connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: configuration), user: person))
    }

    func connection(as person: String) throws -> PostgresConnection {
        try PostgresConnection(connectionString: try configuration(as: person).connectionString)
    }

    func decision(_ kind: String, _ worker: String, _ effective: String, _ fields: [String: JSONValue], reference: String = UUID().uuidString) throws -> Decision {
        var object = JSONObject([
            ("decision", .string(kind)), ("worker", .string(worker)), ("effective", .string(effective)),
            ("authority", .string("黄浦区社会工作部")), ("reference", .string(reference)),
        ])
        for (key, value) in fields { object[key] = value }
        return try DecisionCodec.decode(.object(object))
    }

    func hire(_ worker: String, district: String = "黄浦区", city: String = "上海", on date: String = "2015-01-01") throws -> Decision {
        var fields = Scenario.hireFields(district: district)
        fields["city"] = .string(city)
        return try decision("hire", worker, date, fields)
    }

    func training(_ worker: String, on date: String) throws -> Decision {
        try decision("training", worker, date, ["kind": .string("special"), "hours": .integer(4)])
    }

    /// Every table a hostile writer might try to change, with its row count.
    func snapshot() throws -> [Int64] {
        try ["dossier.events", "dossier.personal_data", "dossier.placements", "dossier.merkle_leaves", "dossier.people",
             "dossier.scopes", "dossier_read.audit_trail"].map { table in
            try admin.query("SELECT count(*) FROM \(fragment: PostgresQuery(unsafeSQL: table))").scalar(Int64.self) ?? -1
        }
    }
}

@Suite("People, roles and scopes")
struct AccessTests {
    @Test("hr records within its district; outside it is refused naming role, place and scopes, with nothing written")
    func scopes() async throws {
        let p = try People3()
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        let recorded = try await ledger.record(try p.hire("HP-1"))
        #expect(recorded.decision.subject == "HP-1")
        let stored = try await EventStore(p.configuration).readStream(.worker("HP-1"))
        #expect(stored.first?.recordedBy == clerk)
        let before = try p.snapshot()
        for decision in [try p.hire("XH-1", district: "徐汇区"), try p.hire("BJ-1", district: "朝阳区", city: "北京")] {
            let error = await #expect(throws: StoreError.self) { try await ledger.record(decision) }
            let text = error?.description ?? ""
            #expect(text.contains(clerk) && text.contains("上海/黄浦区") && text.contains(decision.subject), "\(text)")
        }
        #expect(try p.snapshot() == before)
        // A worker of another district recorded by an admin is out of reach for the clerk too.
        _ = try await p.scenario.ledger.record(try p.hire("XH-2", district: "徐汇区"))
        await #expect(throws: StoreError.self) { try await ledger.record(try p.training("XH-2", on: "2016-01-01")) }
        // Population and policy only for its own jurisdictions.
        let population = try DecisionCodec.decode(json: #"{"decision":"population","jurisdiction":"上海/徐汇区","year":2024,"urbanPopulation":10000,"effective":"2024-01-01","authority":"a","reference":"P1"}"#)
        await #expect(throws: StoreError.self) { try await ledger.record(population) }
        let own = try DecisionCodec.decode(json: #"{"decision":"population","jurisdiction":"上海/黄浦区","year":2024,"urbanPopulation":10000,"effective":"2024-01-01","authority":"a","reference":"P2"}"#)
        _ = try await ledger.record(own)
    }

    @Test("a city scope covers its districts; a transfer out needs both ends; back in scope after the transfer back")
    func cityScopeAndTransfers() async throws {
        let p = try People3()
        let city = try p.add("cityhr", .hr, ["上海"])
        let district = try p.add("hphr", .hr, ["上海/黄浦区"])
        let cityLedger = Ledger(try p.configuration(as: city))
        let clerk = Ledger(try p.configuration(as: district))
        _ = try await cityLedger.record(try p.hire("T-1"))
        _ = try await cityLedger.record(try p.hire("T-2", district: "徐汇区"))
        let out = try p.decision("transfer", "T-1", "2018-01-01", ["community": .string("天平居民区"), "street": .string("天平路街道"), "district": .string("徐汇区")])
        // The district clerk may not move a worker out of its district.
        await #expect(throws: StoreError.self) { try await clerk.record(out) }
        _ = try await cityLedger.record(out)
        // While the worker is in 徐汇区 the clerk cannot record for that time, but can for the time before.
        await #expect(throws: StoreError.self) { try await clerk.record(try p.training("T-1", on: "2019-01-01")) }
        _ = try await clerk.record(try p.training("T-1", on: "2017-06-01"))
        let back = try p.decision("transfer", "T-1", "2020-01-01", ["community": .string("桥二居民区"), "street": .string("五里桥街道"), "district": .string("黄浦区")])
        await #expect(throws: StoreError.self) { try await clerk.record(back) }
        _ = try await cityLedger.record(back)
        _ = try await clerk.record(try p.training("T-1", on: "2021-01-01"))
    }

    @Test("a revoked scope refuses from then on and keeps what was recorded; a disabled user is refused")
    func revokeAndDisable() async throws {
        let p = try People3()
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let ledger = Ledger(try p.configuration(as: clerk))
        _ = try await ledger.record(try p.hire("R-1"))
        try People.revoke(p.admin, name: clerk, jurisdiction: "上海/黄浦区", authority: "tests", reference: nil)
        await #expect(throws: StoreError.self) { try await ledger.record(try p.training("R-1", on: "2016-01-01")) }
        #expect(try await EventStore(p.configuration).readStream(.worker("R-1")).count == 1)
        _ = try People.grant(p.admin, name: clerk, jurisdiction: "上海/黄浦区", authority: "tests", reference: nil)
        _ = try await ledger.record(try p.training("R-1", on: "2016-01-01"))
        let open = try p.connection(as: clerk)
        #expect(try People.disable(p.admin, name: clerk, authority: "tests", reference: nil))
        // The open session is refused as an actor; a new login is refused by PostgreSQL.
        let refused = #expect(throws: StoreError.self) {
            try EventLog.append(open, to: .worker("R-1"), expected: .any, events: [event()])
        }
        #expect(refused?.description.contains("disabled") == true)
        #expect(throws: PostgresError.self) { try p.connection(as: clerk) }
        // Each change is an event of the access stream, covered by the tree like any other.
        let kinds = try p.admin.query("SELECT event_type FROM dossier.events WHERE stream = 'access' ORDER BY position").rows.map {
            try $0.decode(String.self, at: 0)
        }
        #expect(kinds == ["person-added", "scope-revoked", "scope-granted", "person-disabled"])
        let who = try People.whoCouldRecord(p.admin, jurisdiction: "上海/黄浦区", at: Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1e6)))
        #expect(!who.contains { $0["person"] == .string(clerk) })
    }

    @Test("an import with one out-of-scope line writes nothing and names that decision")
    func importOutOfScope() async throws {
        let p = try People3()
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let decisions = [try p.hire("I-1"), try p.hire("I-2", district: "徐汇区"), try p.hire("I-3")]
        let numbered = decisions.enumerated().map { Importer.Line(number: $0.offset + 1, decision: .success($0.element)) }
        let before = try p.snapshot()
        let chunks = Chunks(numbered)
        let error = await #expect(throws: (any Error).self) {
            _ = try await Importer(try p.configuration(as: clerk)).run(chunks: { chunks.next() }, skipInvalid: false)
        }
        #expect("\(error.map { String(describing: $0) } ?? "")".contains("line 2: "))
        #expect("\(error.map { String(describing: $0) } ?? "")".contains("I-2"))
        #expect(try p.snapshot() == before)
    }

    @Test("hostile hr from psql: forged settings, direct inserts, views, sequences, Merkle rows, junk events, forged actors")
    func hostileWriter() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.hire("H-1"))
        _ = try await p.scenario.ledger.record(try p.hire("XH-9", district: "徐汇区"))
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let psql = try p.connection(as: clerk)
        let before = try p.snapshot()
        let attacks: [PostgresQuery] = [
            "SET dossier.appending = 'on'; INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective, recorded_at, recorded_by, authority, reference) VALUES (99, 'worker/H-1', 9, gen_random_uuid(), 'level-change', 2, '{\"level\":18,\"grounds\":\"other\"}', '2013-01-01', '2013-01-02', 'alice', 'a', 'b')",
            "INSERT INTO dossier.personal_data (event_id, stream, fields, salt) SELECT event_id, stream, '{\"name\":\"x\"}', '\\x01' FROM dossier.events LIMIT 1",
            "INSERT INTO dossier.placements VALUES ('H-1', 9, '上海', '黄浦区', 's', 'c', '2000-01-01', NULL)",
            "DELETE FROM dossier.placements",
            "INSERT INTO dossier.merkle_leaves VALUES (0, 1, gen_random_uuid(), decode(repeat('00', 32), 'hex'))",
            "SELECT setval('dossier.event_position', 1000)",
            "CREATE OR REPLACE VIEW dossier_read.policy_exceptions AS SELECT 1",
            "CREATE TABLE dossier_read.planted (x int)",
            "DELETE FROM dossier_read.audit_trail",
            "SELECT * FROM dossier.append_to_stream('policy', -1, ARRAY[gen_random_uuid()], ARRAY['policy'], ARRAY[1]::smallint[], ARRAY['{\"junk\":true}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['junk-1'])",
            "SELECT * FROM dossier.append_to_stream('worker/H-1', -1, ARRAY[gen_random_uuid()], ARRAY['level-change'], ARRAY[2]::smallint[], ARRAY['{\"level\":\"18\"}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['junk-2'])",
            "SELECT * FROM dossier.append_to_stream('worker/../H-1', -1, ARRAY[gen_random_uuid()], ARRAY['training'], ARRAY[1]::smallint[], ARRAY['{\"kind\":\"special\",\"hours\":2}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['junk-3'])",
            "SELECT * FROM dossier.append_to_stream('worker/H-1', -1, ARRAY[gen_random_uuid()], ARRAY['training'], ARRAY[1]::smallint[], ARRAY['{\"kind\":\"special\",\"hours\":2}'::jsonb], ARRAY['0200-01-01'::date], ARRAY['a'], ARRAY['junk-4'])",
            "SELECT * FROM dossier.append_to_stream('worker/H-1', -1, ARRAY[gen_random_uuid()], ARRAY['person-added'], ARRAY[1]::smallint[], ARRAY['{\"person\":\"x\",\"role\":\"admin\",\"jurisdictions\":[]}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['junk-5'])",
            "INSERT INTO dossier.staged_events (txid, ord, stream, version, event_id, event_type, schema_version, payload, effective, authority, reference) VALUES ('1', 1, 'worker/H-1', 2, gen_random_uuid(), 'training', 1, '{}', '2020-01-01', 'a', 'r')",
            "SELECT dossier.add_person('mole', 'admin', '{}', 'SCRAM-SHA-256$4096:a$b:c', 'a', 'r')",
            "SELECT dossier.grant_scope(current_user, '上海', 'a', 'r')",
            "SET ROLE dossier_writer; SELECT * FROM dossier.append_to_stream('worker/H-1', -1, ARRAY[gen_random_uuid()], ARRAY['training'], ARRAY[1]::smallint[], ARRAY['{\"kind\":\"special\",\"hours\":2}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['forged-actor'])",
            "SET ROLE dossier_admin",
            "SELECT * FROM dossier.personal_data",
            "ALTER TABLE dossier.events DISABLE TRIGGER ALL",
            "SELECT dossier_read.swap_next(ARRAY['audit_trail'])",
            "CREATE FUNCTION dossier_read.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE FUNCTION dossier.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "CREATE TABLE public.planted (x int)",
            "SELECT * FROM dossier.append_locks FOR UPDATE",
            "SELECT * FROM dossier.lock_rows FOR UPDATE",
            "SELECT dossier.take_positions(5)",
            "UPDATE dossier.people SET role = 'admin'",
            "INSERT INTO dossier.scopes SELECT current_user, '上海', now(), 'me', gen_random_uuid()",
            "INSERT INTO dossier.access_log (reader, login, worker, what) VALUES ('x', 'x', 'x', 'x')",
            "SELECT dossier.personal_commitments()",
            "SELECT dossier.erase_personal_data('XH-9', 'a', 'out-of-scope-erasure')",
            "SELECT dossier_read.prepare_next(ARRAY['audit_trail'])",
        ]
        for attack in attacks {
            do {
                try psql.executeScript("BEGIN")
                defer { _ = try? psql.executeScript("ROLLBACK") }
                _ = try psql.query(attack)
                Issue.record("not refused: \(attack)")
            } catch let error as PostgresError {
                #expect(error.sqlState != nil, "\(attack): \(error)")
            }
        }
        #expect(try p.snapshot() == before)
        #expect(try p.admin.query("SELECT last_value < 1000 FROM dossier.event_position").scalar(Bool.self) == true)
        // The sanctioned way still works, and it records the person, not a name the client chose.
        _ = try EventLog.append(psql, to: .worker("H-1"), expected: .any, events: [event()], onBehalfOf: "alice")
        let row = try p.admin.query("SELECT recorded_by, on_behalf_of FROM dossier.events ORDER BY position DESC LIMIT 1")[0]
        #expect(try row.decode(String.self, at: 0) == clerk)
        #expect(try row.decode(String.self, at: 1) == "alice")
    }

    @Test("hostile hr cannot pull a worker of another district into its own: second hire, same-day transfer, corrections, rescissions, appeals, placements")
    func noPullingWorkers() async throws {
        let p = try People3()
        let admin = p.scenario.ledger
        _ = try await admin.record(try p.hire("X-1", district: "徐汇区", on: "2018-03-01"))
        _ = try await admin.record(try p.hire("X-2", on: "2015-01-01"))
        let out = try await admin.record(try p.decision(
            "transfer", "X-2", "2020-01-01", ["community": .string("天平居民区"), "street": .string("天平路街道"), "district": .string("徐汇区")]))
        let x1Hire = try p.admin.query("SELECT event_id FROM dossier.events WHERE stream = 'worker/X-1'").scalar(UUID.self)!
        let outAssessment = try await admin.record(try p.decision(
            "assessment", "X-2", "2021-01-15", ["year": .integer(2020), "grade": .string("excellent")])).eventID
        _ = try await admin.record(try p.hire("X-3", on: "2020-01-01"))
        let clerk = try p.add("clerk", .hr, ["上海/黄浦区"])
        let psql = try p.connection(as: clerk)
        let before = try p.snapshot()
        func append(_ stream: String, _ type: String, _ payload: String, _ effective: String) -> PostgresQuery {
            """
            SELECT * FROM dossier.append_to_stream(\(stream), -1, ARRAY[gen_random_uuid()], ARRAY[\(type)], ARRAY[1]::smallint[],
                   ARRAY[\(payload)::jsonb], ARRAY[\(effective)::date], ARRAY['a'], ARRAY[gen_random_uuid()::text])
            """
        }
        let move = #"{"community":"c","street":"s","district":"黄浦区"}"#
        let hire = #"{"community":"c","street":"s","district":"黄浦区","city":"上海","post":"staff","role":"staff","level":3,"education":"bachelor"}"#
        let attacks: [PostgresQuery] = [
            append("worker/X-1", "hire", hire, "2021-01-01"),
            append("worker/X-1", "transfer", move, "2018-03-01"),
            append("worker/X-2", "transfer", move, "2020-01-01"),
            append("worker/X-1", "correction", #"{"corrects":"\#(x1Hire.uuidString.lowercased())","district":"黄浦区"}"#, "1900-01-01"),
            append("worker/X-1", "correction", #"{"corrects":"\#(x1Hire.uuidString.lowercased())","district":"黄浦区","hours":1}"#, "2019-01-01"),
            append("worker/X-2", "rescission", #"{"rescinds":"\#(out.eventID.uuidString.lowercased())","grounds":"x"}"#, "2016-01-01"),
            append("worker/X-2", "appeal-ruling", #"{"appealed":"\#(out.eventID.uuidString.lowercased())","outcome":"overturned"}"#, "2016-01-01"),
            append("worker/X-2", "dismissal", #"{"grounds":"x"}"#, "2021-01-01"),
            // Payloads the database would store but Dossier could not read.
            append("policy", "policy", #"{"jurisdiction":"上海/黄浦区","parameters":{"quotaPerTenThousand":999999999999999}}"#, "2021-01-01"),
            append("policy", "policy", #"{"jurisdiction":"上海/黄浦区","parameters":{"postRoles":{"staff":[]}}}"#, "2021-01-01"),
            append("policy", "policy", #"{"jurisdiction":"上海/黄浦区/x","parameters":{"maxLevel":12}}"#, "2021-01-01"),
            append("worker/X-2", "assessment", #"{"year":2199,"grade":"excellent"}"#, "2016-12-31"),
            append("worker/X-2", "fault-tolerance", #"{"misconduct":"\#(out.eventID.uuidString.lowercased())","ruling":"excused","sanction":"none"}"#, "2016-12-31"),
            "BEGIN; INSERT INTO dossier.staged_placements (worker, span, city, district, street, community, from_date) VALUES ('X-1', 1, '上海', '黄浦区', 's', 'c', '2015-01-01'); SELECT dossier.apply_staged_placements(ARRAY['X-1'])",
            "SELECT dossier.apply_staged_placements(ARRAY['X-2'])",
            // A correction planted for an event that does not exist yet, then that event.
            append("worker/X-3", "correction", #"{"corrects":"11111111-2222-4333-8444-555555555555","district":"黄浦区","grade":"excellent"}"#, "2024-01-01"),
            // A decision about an event of another district's period, dated in the clerk's.
            append("worker/X-2", "correction", #"{"corrects":"\#(outAssessment.uuidString.lowercased())","grade":"competent"}"#, "2019-01-01"),
            append("worker/X-2", "rescission", #"{"rescinds":"\#(outAssessment.uuidString.lowercased())","grounds":"x"}"#, "2019-01-01"),
            """
            SELECT * FROM dossier.append_to_stream('worker/X-2', -1, ARRAY[gen_random_uuid()], ARRAY['level-change'],
                   ARRAY[2]::smallint[], ARRAY['{"level":5}'::jsonb], ARRAY['2019-01-01'::date], ARRAY['a'], ARRAY['v2'])
            """,
            append("worker/X-2", "training", #"{"kind":"special","hours":2,"exceptions":[[1]]}"#, "2019-01-01"),
            append("worker/X-2", "secondment", #"{"to":"x","toLevel":"street","until":"2200-01-01","approval":"a"}"#, "2019-01-01"),
            append("jurisdiction/上海/\u{00A0}黄浦区", "population", #"{"year":2020,"urbanPopulation":5}"#, "2020-01-01"),
        ]
        for attack in attacks {
            do {
                _ = try psql.query(attack)
                Issue.record("not refused: \(attack.sql)")
            } catch let error as PostgresError {
                #expect(error.sqlState != nil, "\(attack.sql): \(error)")
            }
            _ = try? psql.executeScript("ROLLBACK")
        }
        #expect(try p.snapshot() == before)
        // What the clerk may do still works: the time X-2 served in 黄浦区.
        _ = try psql.query(append("worker/X-2", "training", #"{"kind":"special","hours":2}"#, "2019-06-01"))
    }

    @Test("hostile auditor and reviewer from psql: no append, no erasure, no personal data read directly")
    func hostileReaders() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.hire("H-1"))
        let auditor = try p.add("auditor", .auditor)
        let reviewer = try p.add("reviewer", .reviewer)
        let before = try p.snapshot()
        let logBefore = try p.admin.query("SELECT count(*) FROM dossier.access_log").scalar(Int64.self)
        for person in [auditor, reviewer] {
            let psql = try p.connection(as: person)
            for attack: PostgresQuery in [
                "SELECT * FROM dossier.append_to_stream('worker/H-1', -1, ARRAY[gen_random_uuid()], ARRAY['training'], ARRAY[1]::smallint[], ARRAY['{\"kind\":\"special\",\"hours\":2}'::jsonb], ARRAY['2020-01-01'::date], ARRAY['a'], ARRAY['x'])",
                "SELECT dossier.take_import_barrier()",
                "SELECT dossier.erase_personal_data('H-1', 'a', 'r')",
                "SELECT * FROM dossier.personal_data",
                "INSERT INTO dossier.staged_events (ord, stream, version, event_id, event_type, schema_version, payload, effective, authority, reference) VALUES (1, 'worker/H-1', 2, gen_random_uuid(), 'training', 1, '{}', '2020-01-01', 'a', 'r')",
                "SELECT dossier.lock_jurisdiction('上海')",
                "UPDATE dossier_read.checkpoints SET position = 0",
                "SELECT dossier.add_person('mole', 'admin', '{}', 'SCRAM-SHA-256$4096:a$b:c', 'a', 'r')",
            ] {
                #expect(throws: PostgresError.self, "\(person): \(attack)") { try psql.query(attack) }
            }
            // What they may read, they read; auditors see no fields.
            // A read in the same transaction as its request is refused (it could be rolled back with
            // its record); after a committed request it is served, and the log keeps it.
            try psql.executeScript("BEGIN")
            _ = try psql.query("SELECT dossier.request_personal_access(ARRAY['worker/H-1'], 'test')")
            let early = try psql.query(
                "SELECT count(*) FILTER (WHERE fields IS NOT NULL) FROM dossier.personal_data_of(ARRAY['worker/H-1'])"
            ).scalar(Int64.self)
            #expect(early == 0)
            try psql.executeScript("ROLLBACK")
            // Nor can a savepoint hide the request: it counts only once its transaction commits.
            try psql.executeScript("BEGIN; SAVEPOINT s")
            _ = try psql.query("SELECT dossier.request_personal_access(ARRAY['worker/H-1'], 'peek')")
            try psql.executeScript("RELEASE SAVEPOINT s")
            let peek = try psql.query(
                "SELECT count(*) FILTER (WHERE fields IS NOT NULL) FROM dossier.personal_data_of(ARRAY['worker/H-1'])"
            ).scalar(Int64.self)
            #expect(peek == 0)
            try psql.executeScript("ROLLBACK")
            _ = try psql.query("SELECT dossier.request_personal_access(ARRAY['worker/H-1'], 'test')")
            let fields = try psql.query(
                "SELECT count(*) FILTER (WHERE fields IS NOT NULL) FROM dossier.personal_data_of(ARRAY['worker/H-1'])"
            ).scalar(Int64.self)
            #expect(fields == (person == auditor ? 0 : 1))
            let logged = try psql.query("SELECT count(*) FROM dossier.access_log WHERE reader = \(person) AND worker = 'H-1'")
                .scalar(Int64.self)
            #expect(logged == (person == auditor ? 0 : 1))
            #expect(throws: PostgresError.self) { try psql.query("SELECT * FROM dossier.find_by_name('张')") }
        }
        #expect(try p.snapshot() == before)
        #expect(try p.admin.query("SELECT count(*) FROM dossier.access_log").scalar(Int64.self) == logBefore.map { $0 + 1 })
    }

    @Test("a reader holding the old advisory keys cannot stall appends: the order is kept by rows it cannot lock; a held lock times out clearly")
    func readerLocks() async throws {
        let p = try People3()
        let auditor = try p.add("auditor", .auditor)
        let reader = try p.connection(as: auditor)
        _ = try reader.query("SELECT pg_advisory_lock(1149, 0), pg_advisory_lock(1148, 0)")
        let refused = #expect(throws: PostgresError.self) {
            try reader.query("SELECT * FROM dossier.append_locks FOR SHARE")
        }
        #expect(refused?.sqlState == .insufficientPrivilege)
        _ = try await p.scenario.ledger.record(try p.hire("L-1"))
        // The old stream key does not stall the stream either: stream locks are rows too.
        _ = try reader.query("SELECT pg_advisory_lock(1147, hashtext('worker/L-1')), pg_advisory_lock(1150, hashtext('上海'))")
        _ = try await p.scenario.ledger.record(try p.training("L-1", on: "2016-01-01"))
        _ = try await p.scenario.ledger.record(try p.hire("L-2"))
        // A writer that holds a stream's lock too long makes the next one fail clearly, not hang.
        let holder = try adminConnection(p.configuration)
        try holder.executeScript("BEGIN")
        _ = try EventLog.append(holder, to: .worker("L-1"), expected: .any, events: [event()])
        let writer = try adminConnection(p.configuration)
        try writer.execute("SET lock_timeout = '300ms'")
        let error = #expect(throws: StoreError.self) {
            try EventLog.append(writer, to: .worker("L-1"), expected: .any, events: [event()])
        }
        try holder.executeScript("ROLLBACK")
        #expect(error?.description.contains("lock_timeout") == true)
    }

    @Test("auditors read everything but names; reviewers read names and every read is logged; neither can append")
    func readersAndPersonalData() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.hire("N-1"))
        let auditor = try p.add("auditor", .auditor)
        let reviewer = try p.add("reviewer", .reviewer)
        let asAuditor = try await Ledger(try p.configuration(as: auditor)).show(worker: "N-1")
        #expect(asAuditor.personal?.withheld == true)
        #expect(asAuditor.personal?.name == nil)
        let asReviewer = try await Ledger(try p.configuration(as: reviewer)).trace(subject: "N-1")
        #expect(asReviewer.personal?.name == "张伟")
        let log = try People.accessLog(p.admin, worker: "N-1", reader: nil, since: nil)
        #expect(log.map(\.reader) == [reviewer])
        #expect(log.first?.what == "trace")
        // The auditor reads the projections as they are and is told how far behind they are.
        let model = ReadModel(try p.configuration(as: auditor))
        #expect(try await model.roster(place: ReadModel.Place(), asOf: CalendarDate("2020-01-01")!).isEmpty)
        #expect(model.behind > 0)
        _ = try await ReadModel(p.configuration).roster(place: ReadModel.Place(), asOf: CalendarDate("2020-01-01")!)
        #expect(try await model.roster(place: ReadModel.Place(), asOf: CalendarDate("2020-01-01")!).map(\.worker) == ["N-1"])
        #expect(model.behind == 0)
        #expect(throws: StoreError.self) { try People.find(try p.connection(as: auditor), name: "张") }
        #expect(try People.find(try p.connection(as: reviewer), name: "张").map(\.worker) == ["N-1"])
        for person in [auditor, reviewer] {
            await #expect(throws: StoreError.self) {
                try await Ledger(try p.configuration(as: person)).record(try p.training("N-1", on: "2016-01-01"))
            }
        }
    }

    @Test("erasure: names gone, the event recorded, verify still passes, the same erasure again changes nothing")
    func erasure() async throws {
        let p = try People3()
        _ = try await p.scenario.ledger.record(try p.hire("E-1"))
        let key = SigningKey(name: "test-ledger")
        _ = try await PostgresSession.open(p.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
        let before = try await PostgresSession.open(p.configuration, role: .person).run {
            try Integrity.exportBundle($0, subject: "E-1", key: key.verifying)
        }
        let first = try People.erase(p.admin, worker: "E-1", authority: "黄浦区人民法院", reference: "ER-1")
        #expect(!first.duplicate && first.erased == 1)
        let again = try People.erase(p.admin, worker: "E-1", authority: "黄浦区人民法院", reference: "ER-1")
        #expect(again.duplicate && again.eventID == first.eventID)
        #expect(throws: StoreError.self) { try People.erase(p.admin, worker: "NOBODY", authority: "a", reference: "ER-2") }
        let shown = try await p.scenario.ledger.show(worker: "E-1")
        #expect(shown.personal?.erased == true)
        _ = try await PostgresSession.open(p.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
        let report = try await PostgresSession.open(p.configuration, role: .person).run { try Integrity.verify($0, key: key.verifying, external: []) }
        #expect(report.mismatch == nil)
        let kinds = try await EventStore(p.configuration).readStream(.worker("E-1")).map(\.type)
        #expect(kinds == ["hire", "erasure"])
        // The bundle exported before still verifies; a new one carries the erasure and no names.
        let old = try EvidenceBundle.verify(Array(JSONValue.object(before).canonicalText.utf8), trustedKey: key.verifying)
        #expect(old.personalVerified == 1)
        let after = try await PostgresSession.open(p.configuration, role: .person).run {
            try Integrity.exportBundle($0, subject: "E-1", key: key.verifying)
        }
        let verified = try EvidenceBundle.verify(Array(JSONValue.object(after).canonicalText.utf8), trustedKey: key.verifying)
        #expect(verified.events.map(\.type) == ["hire", "erasure"])
        #expect(verified.personalVerified == 0)
        #expect(!JSONValue.object(after).canonicalText.contains("张伟"))
    }
}

/// Hands out one chunk of lines, then nil.
final class Chunks: @unchecked Sendable {
    private var lines: [Importer.Line]?
    private let lock = NSLock()
    init(_ lines: [Importer.Line]) { self.lines = lines }
    func next() -> [Importer.Line]? {
        lock.lock()
        defer { lock.unlock() }
        let chunk = lines
        lines = nil
        return chunk
    }
}
