import DossierDomain
@testable import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// `checkpoint` and `verify` hash on several threads, straight from the rows' text: the same
/// leaves, tree, heads and findings as one thread decoding every event, whatever the split.
@Suite("Tamper evidence on every core")
struct ParallelIntegrityTests {
    let key = SigningKey(name: "test-ledger")

    /// A ledger of many streams: `workers` hires and as many assessments, imported in one go.
    func manyStreams(_ workers: Int) async throws -> Scenario {
        var s = try Scenario()
        var decisions: [Decision] = []
        for n in 0..<workers { decisions.append(s.decision("hire", "P\(n)", "2015-03-01", Scenario.hireFields())) }
        for n in 0..<workers {
            decisions.append(s.decision(
                "assessment", "P\(n)", "2016-01-15", ["year": .integer(2015), "grade": .string(n % 3 == 0 ? "excellent" : "competent")]))
        }
        let chunks = Chunks(decisions.enumerated().map { Importer.Line(number: $0.offset + 1, decision: .success($0.element)) })
        _ = try await Importer(s.configuration).run(chunks: { chunks.next() }, skipInvalid: false)
        return s
    }

    func checkpoint(_ s: Scenario, workers: Int, batchSize: Int = 10_000) async throws -> String {
        let key = self.key
        return try await PostgresSession.open(s.configuration, role: .person).run {
            try Integrity.checkpoint($0, key: key, workers: workers, batchSize: batchSize)
        }
    }

    func verify(_ s: Scenario, workers: Int, batchSize: Int = 10_000) async throws -> Integrity.Verification {
        let key = self.key.verifying
        return try await PostgresSession.open(s.configuration, role: .person).run {
            try Integrity.verify($0, key: key, workers: workers, batchSize: batchSize)
        }
    }

    /// What a verification found, without its timing.
    func summary(_ report: Integrity.Verification) -> String {
        "\(report.events) \(report.checkpoints) \(report.uncovered) \(report.nodesChecked) \(report.personalChecked) "
            + "\(report.mismatch?.description ?? "intact")"
    }

    /// The stored tree: every leaf and node, and the heads of the latest checkpoint.
    func storedTree(_ s: Scenario) throws -> [String] {
        let admin = try adminConnection(s.configuration)
        var lines: [String] = []
        for row in try admin.query("SELECT leaf_index, position, event_id, encode(leaf_hash, 'hex') FROM dossier.merkle_leaves ORDER BY leaf_index").rows {
            lines.append("leaf \(try row.decode(Int64.self, at: 0)) \(try row.decode(Int64.self, at: 1)) \(try row.decode(UUID.self, at: 2)) \(try row.decode(String.self, at: 3))")
        }
        for row in try admin.query("SELECT level, node_index, encode(hash, 'hex') FROM dossier.merkle_nodes ORDER BY level, node_index").rows {
            lines.append("node \(try row.decode(Int32.self, at: 0)) \(try row.decode(Int64.self, at: 1)) \(try row.decode(String.self, at: 2))")
        }
        return lines
    }

    func resetTree(_ s: Scenario) throws {
        let admin = try adminConnection(s.configuration)
        for table in ["merkle_leaves", "merkle_nodes", "merkle_heads", "checkpoints"] {
            try admin.executeScript("ALTER TABLE dossier.\(table) DISABLE TRIGGER USER; DELETE FROM dossier.\(table); ALTER TABLE dossier.\(table) ENABLE TRIGGER USER")
        }
    }

    /// The signed size, root and heads line of a checkpoint (its time differs from run to run).
    func signedPart(_ note: String) -> String {
        note.split(separator: "\n").prefix(4).joined(separator: "\n")
    }

    @Test("checkpoint and verify give the same with 1 worker and with 4, in any batch size, on a ledger of many streams")
    func sameWithOneAndFour() async throws {
        var s = try await manyStreams(700)
        // Checkpoints at sizes inside batches, and an event after the last one.
        let first = try await checkpoint(s, workers: 4, batchSize: 300)
        try await s.hire("Q1", "2017-01-01")
        try await s.record("training", "P3", "2017-04-01", ["kind": .string("special"), "hours": .integer(8)])
        let second = try await checkpoint(s, workers: 4, batchSize: 300)
        try await s.hire("Q2", "2017-01-01")
        let total = Int(try adminConnection(s.configuration).query("SELECT count(*) FROM dossier.events").scalar(Int64.self)!)
        #expect(total >= 1_403)
        var reports: Set<String> = []
        for (workers, batch) in [(1, 10_000), (4, 10_000), (4, 300), (2, 257), (4, 1), (3, 1_024)] {
            let report = try await verify(s, workers: workers, batchSize: batch)
            #expect(report.mismatch == nil)
            #expect(report.events == total)
            #expect(report.uncovered == 1)
            reports.insert(summary(report))
        }
        #expect(reports.count == 1)
        let third = try await checkpoint(s, workers: 4, batchSize: 300)
        let tree = try storedTree(s)
        #expect(tree.filter { $0.hasPrefix("leaf") }.count == total)
        #expect(tree.contains { $0.hasPrefix("node 10 0 ") })
        // The same tree and signed heads from one worker reading everything at once, and from
        // four reading a few rows at a time.
        try resetTree(s)
        let again = try await checkpoint(s, workers: 1)
        #expect(try storedTree(s) == tree)
        #expect(signedPart(again) == signedPart(third))
        try resetTree(s)
        let small = try await checkpoint(s, workers: 4, batchSize: 7)
        #expect(try storedTree(s) == tree)
        #expect(signedPart(small) == signedPart(third))
        // The earlier checkpoints' roots are roots of prefixes of this tree.
        for note in [first, second] {
            let key = self.key.verifying
            let report = try await PostgresSession.open(s.configuration, role: .person).run {
                try Integrity.verify($0, key: key, external: [note], workers: 4, batchSize: 500)
            }
            #expect(report.mismatch == nil)
            #expect(report.externalCheckpoints == 1)
        }
    }

    @Test("tampering is found with 4 workers at the same place as with 1")
    func tamperingWithFour() async throws {
        let s = try await manyStreams(400)
        _ = try await checkpoint(s, workers: 4)
        let admin = try adminConnection(s.configuration)
        func tamper(_ statements: [String]) throws {
            try admin.execute("ALTER TABLE dossier.events DISABLE TRIGGER USER")
            try admin.execute("ALTER TABLE dossier.personal_data DISABLE TRIGGER USER")
            for statement in statements { try admin.executeScript(statement) }
            try admin.execute("ALTER TABLE dossier.events ENABLE TRIGGER USER")
            try admin.execute("ALTER TABLE dossier.personal_data ENABLE TRIGGER USER")
        }
        func findings() async throws -> String {
            var seen: Set<String> = []
            for (workers, batch) in [(1, 10_000), (4, 10_000), (4, 333), (4, 50)] {
                let report = try await verify(s, workers: workers, batchSize: batch)
                #expect(report.mismatch != nil)
                seen.insert(report.mismatch?.description ?? "intact")
            }
            #expect(seen.count == 1)
            return seen.first ?? ""
        }
        // One changed payload deep in the log, in the last chunk a worker takes.
        let target = try admin.query("SELECT position, event_id FROM dossier.events WHERE stream = 'worker/P377' AND version = 2")[0]
        let position = try target.decode(Int64.self, at: 0)
        try tamper(["UPDATE dossier.events SET payload = jsonb_set(payload, '{grade}', '\"excellent\"') WHERE position = \(position)"])
        let changed = try await findings()
        #expect(changed.contains("position \(position)"))
        #expect(changed.contains("content differs"))
        // Put back, then remove an event in the middle of a batch.
        try tamper(["UPDATE dossier.events SET payload = jsonb_set(payload, '{grade}', '\"competent\"') WHERE position = \(position)"])
        #expect(try await verify(s, workers: 4).mismatch == nil)
        let middle = try admin.query("SELECT position FROM dossier.events WHERE stream = 'worker/P123' AND version = 1").scalar(Int64.self)!
        try tamper([
            "DELETE FROM dossier.personal_data WHERE event_id IN (SELECT event_id FROM dossier.events WHERE position = \(middle))",
            "DELETE FROM dossier.events WHERE position = \(middle)",
        ])
        let deleted = try await findings()
        #expect(deleted.contains("another event"))
        #expect(deleted.contains("position \(middle + 1)"))
        // A stored leaf hash altered before that place: found first.
        try admin.executeScript(
            "ALTER TABLE dossier.merkle_leaves DISABLE TRIGGER USER; UPDATE dossier.merkle_leaves SET leaf_hash = sha256('x') WHERE leaf_index = 5; ALTER TABLE dossier.merkle_leaves ENABLE TRIGGER USER")
        let altered = try await findings()
        #expect(altered.contains("content differs"))
    }

    @Test("the leaf hash from the row's text is the defined one, for every event and for odd payloads")
    func leafFromText() async throws {
        let s = try await manyStreams(60)
        let admin = try adminConnection(s.configuration)
        try admin.execute("ALTER TABLE dossier.events DISABLE TRIGGER USER")
        let payloads = [
            #"{"name": "张伟", "text": "a\"b\\c\n\t\r\b\f\u0001\u001f\u007f/ok", "n": [0, -1, 123456789012345678], "m": {"b": {}, "a": []}}"#,
            #"{"big": 9223372036854775807, "small": -9223372036854775808}"#,
            #"{"fraction": 1.5, "exp": 1e3, "neg": -0}"#,
            #"{"名字": "李娜", "ab": 1, "a": 2, "b": 3, "B": 4, "aa": 5}"#,
            #"{"é": 1, "é": 2}"#,
            "{\"K\": 1, \"\u{212A}\": 2}",
            #"{}"#,
            #"{"deep": [[[[{"x": [true, false, null]}]]]]}"#,
            #"{"big": 99999999999999999999}"#,
        ]
        for (offset, payload) in payloads.enumerated() {
            try admin.query(
                """
                INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective,
                                            recorded_at, recorded_by, authority, reference)
                VALUES (\(Int64(-100 - offset)), \("jurisdiction/上海/黄浦区/\(offset)"), 1, gen_random_uuid(), 'training', 1,
                        \(PostgresJSONB(payload)), '2015-01-01', now(), '检查员', '上海市 "社会工作部"\\', \("R-\\n-\(offset)"))
                """)
        }
        try admin.execute("ALTER TABLE dossier.events ENABLE TRIGGER USER")
        let rows = try EventLog.readRows(admin, after: Int64.min, limit: 100_000)
        let written = rows.rowCount - payloads.count
        #expect(written >= 120)
        var fast = 0
        var writer = CanonicalEventWriter()
        for index in 0..<rows.rowCount {
            let row = rows[index]
            let defined = Result { CanonicalEvent.leafHash(try EventLog.decodeEvent(row)) }
            let fromText = Result { try LeafHashing.leaf(row, writer: &writer).hash }
            switch (defined, fromText) {
            case (.success(let a), .success(let b)): #expect(a == b, "row \(index)")
            case (.failure, .failure): break
            default: Issue.record("row \(index): \(defined) but from the text \(fromText)")
            }
            if LeafHashing.fastLeaf(row, writer: &writer) != nil { fast += 1 }
            if index >= payloads.count, let leaf = LeafHashing.fastLeaf(row, writer: &writer) {
                #expect(leaf.hash == (try? defined.get()))
            }
        }
        // Every event Dossier wrote, and the odd payloads PostgreSQL writes in canonical form.
        #expect(fast == written + 3)
        // The hashing of a whole batch on 4 threads gives the same leaves as one.
        let good = try admin.query(
            "SELECT \(fragment: EventLog.columns) FROM dossier.events WHERE position > 0 ORDER BY position")
        let one = try LeafHashing.hash(good, workers: 1).map(\.hash)
        let four = try LeafHashing.hash(good, workers: 4).map(\.hash)
        #expect(one == four)
        #expect(one.count == written)
    }
}
