import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// Issue 14, evidence: a stream's length is signed, `verify` checks everything stored, `prove`
/// and `export` emit only what they checked, and the bundle reader is strict.
@Suite("Evidence that proves the whole record")
struct EvidenceTests {
    let key = SigningKey(name: "test-ledger")

    /// Three workers, three events each, checkpointed.
    func ledger(trainings: Int = 0) async throws -> Scenario {
        var s = try Scenario()
        for worker in ["W1", "W2", "W3"] {
            try await s.hire(worker, "2015-03-01")
            _ = try await s.assess(worker, 2015, "excellent")
            try await s.record("training", worker, "2016-04-01", ["kind": .string("special"), "hours": .integer(8)])
        }
        for index in 0..<trainings {
            let round = index / 3
            try await s.record(
                "training", ["W1", "W2", "W3"][index % 3], "\(2017 + round / 40)-01-01",
                ["kind": .string("special"), "hours": .integer(Int64(round % 40 + 1))])
        }
        try await checkpoint(s)
        return s
    }

    @discardableResult
    func checkpoint(_ s: Scenario) async throws -> String {
        let key = self.key
        return try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
    }

    func export(_ s: Scenario, _ worker: String, since: [String] = []) async throws -> JSONObject {
        let key = self.key.verifying
        return try await PostgresSession.open(s.configuration, role: .person).run {
            try Integrity.exportBundle($0, subject: worker, key: key, since: since)
        }
    }

    func verify(_ s: Scenario) async throws -> Integrity.Verification {
        let key = self.key.verifying
        return try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.verify($0, key: key) }
    }

    func bytes(_ object: JSONObject) -> [UInt8] { Array(JSONValue.object(object).canonicalText.utf8) }

    /// Runs statements as the superuser with the tree tables' guards switched off.
    func tamper(_ s: Scenario, _ statements: [String]) throws {
        let admin = try adminConnection(s.configuration)
        let tables = ["dossier.events", "dossier.merkle_nodes", "dossier.merkle_heads", "dossier.checkpoints"]
        for table in tables { try admin.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DISABLE TRIGGER USER")) }
        for statement in statements { try admin.query(PostgresQuery(unsafeSQL: statement)) }
        for table in tables { try admin.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ENABLE TRIGGER USER")) }
    }

    func refused(_ bytes: [UInt8], _ expected: String, accept1: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: EvidenceBundle.Failure.self, sourceLocation: sourceLocation) {
            try EvidenceBundle.verify(bytes, trustedKey: key.verifying, acceptFormat1: accept1)
        }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test("the checkpoint signs every stream's head; removing the first, a middle or the last event fails verify-bundle")
    func completeness() async throws {
        let s = try await ledger()
        let bundle = try await export(s, "W2")
        #expect(bundle["format"] == .string("dossier-bundle/2"))
        let verified = try EvidenceBundle.verify(bytes(bundle), trustedKey: key.verifying)
        #expect(verified.complete)
        #expect(verified.events.count == 3)
        let heads = try #require(verified.checkpoint.heads)
        // W1, W2, W3 and the access stream of the scenario's people (at least the three workers).
        #expect(heads.count >= 3)
        guard case .array(let events)? = bundle["events"] else { Issue.record("no events"); return }
        for (name, kept) in [("first", Array(events.dropFirst())), ("middle", [events[0], events[2]]), ("last", Array(events.dropLast()))] {
            var cut = bundle
            cut["events"] = .array(kept)
            let error = #expect(throws: EvidenceBundle.Failure.self, "\(name) event removed") {
                try EvidenceBundle.verify(bytes(cut), trustedKey: key.verifying)
            }
            #expect(error != nil, "removing the \(name) event must fail")
        }
        var lastCut = bundle
        lastCut["events"] = .array(Array(events.dropLast()))
        refused(bytes(lastCut), "incomplete")
        // Removing the last event and its personal entry and forging the head index: still refused.
        for index in 0..<heads.count {
            var forged = lastCut
            if case .object(var head)? = forged["head"] {
                head["index"] = .integer(Int64(index))
                forged["head"] = .object(head)
            }
            #expect((try? EvidenceBundle.verify(bytes(forged), trustedKey: key.verifying)) == nil)
        }
        // A bundle exported before more events were recorded stays true (complete as of its checkpoint).
        var scenario = s
        _ = try await scenario.assess("W2", 2016, "excellent")
        try await checkpoint(s)
        #expect(try EvidenceBundle.verify(bytes(bundle), trustedKey: key.verifying).events.count == 3)
        #expect(try EvidenceBundle.verify(bytes(try await export(s, "W2")), trustedKey: key.verifying).events.count == 4)
        #expect(try await verify(s).mismatch == nil)
    }

    @Test("format 1 bundles are refused unless asked for, and then said not to be proven complete")
    func formatOne() async throws {
        let s = try await ledger()
        var old = try await export(s, "W1")
        old["format"] = .string("dossier-bundle/1")
        old["head"] = nil
        old["consistency"] = nil
        refused(bytes(old), "--accept-format-1")
        let verified = try EvidenceBundle.verify(bytes(old), trustedKey: key.verifying, acceptFormat1: true)
        #expect(!verified.complete)
    }

    @Test("export links the bundle to an older checkpoint the worker kept, and refuses one of another log")
    func sinceCheckpoint() async throws {
        var s = try await ledger()
        let first = try await checkpoint(s)
        _ = try await s.assess("W1", 2016, "competent")
        try await checkpoint(s)
        let bundle = try await export(s, "W1", since: [first])
        let verified = try EvidenceBundle.verify(bytes(bundle), trustedKey: key.verifying)
        #expect(verified.linked.map(\.size) == [9])
        // The link's proof altered: refused.
        var altered = bundle
        if case .array(var links)? = bundle["consistency"], case .object(var link) = links[0] {
            link["proof"] = .array([.string(Merkle.emptyRoot.base64)])
            links[0] = .object(link)
            altered["consistency"] = .array(links)
        }
        refused(bytes(altered), "consistency proof 1")
        // A checkpoint signed by the same key over another log of 9 events is not linked.
        let other = try await ledger(trainings: 1)
        let foreign = try await checkpoint(other)
        #expect(try Checkpoint.verify(foreign, key: key.verifying).size == 10)
        await #expect(throws: IntegrityError.self) { try await export(s, "W1", since: [foreign]) }
    }

    @Test("export refuses (stale, not tampering) when the record has events after the latest checkpoint")
    func staleExport() async throws {
        var s = try await ledger()
        _ = try await s.assess("W3", 2016, "competent")
        let error = await #expect(throws: IntegrityError.self) { try await export(s, "W3") }
        guard case .stale(let message)? = error else { Issue.record("expected stale, got \(String(describing: error))"); return }
        #expect(message.contains("does not cover the last 1 of the 4 events of W3"), "\(message)")
        // Other workers' records are covered: they export.
        #expect(try await export(s, "W1")["events"] != nil)
    }

    @Test("a ledger checkpointed before heads were signed is signed again at the same size, then exports and verifies")
    func upgradeFromUnsignedHeads() async throws {
        var s = try Scenario()
        for worker in ["W1", "W2"] { try await s.hire(worker, "2015-03-01") }
        // What earlier versions stored: a checkpoint without a heads line, its leaves, no heads rows.
        let key = self.key
        let note = try await checkpoint(s)
        let signed = try Checkpoint.verify(note, key: key.verifying)
        var legacy = signed
        legacy.heads = nil
        legacy.time = Timestamp(microsecondsSinceEpoch: signed.time.microsecondsSinceEpoch - 1_000_000)
        let legacyNote = try legacy.signed(with: key)
        try tamper(s, [
            "DELETE FROM dossier.merkle_heads",
            "UPDATE dossier.checkpoints SET note = \(sqlLiteral(legacyNote)), signed_at = signed_at - interval '1 second'",
        ])
        await #expect(throws: IntegrityError.self) { try await export(s, "W1") }
        let again = try await checkpoint(s)
        let resigned = try Checkpoint.verify(again, key: key.verifying)
        #expect(resigned.size == signed.size && resigned.root == signed.root && resigned.heads != nil)
        #expect(try EvidenceBundle.verify(bytes(try await export(s, "W1")), trustedKey: key.verifying).complete)
        let report = try await verify(s)
        #expect(report.mismatch == nil, "\(String(describing: report.mismatch))")
        #expect(report.checkpoints == 1)  // one size, signed twice with one root
    }

    @Test("a head row slipped in at the size of a checkpoint that signs no heads is found by verify, and export refuses")
    func strayHeadAtLegacySize() async throws {
        var s = try Scenario()
        for worker in ["W1", "W2"] { try await s.hire(worker, "2015-03-01") }
        let key = self.key
        let signed = try Checkpoint.verify(try await checkpoint(s), key: key.verifying)
        var legacy = signed
        legacy.heads = nil
        try tamper(s, [
            "DELETE FROM dossier.merkle_heads",
            "UPDATE dossier.checkpoints SET note = \(sqlLiteral(try legacy.signed(with: key)))",
        ])
        try await s.hire("W3", "2015-03-01")
        try await checkpoint(s)
        #expect(try await verify(s).mismatch == nil)
        #expect(try EvidenceBundle.verify(bytes(try await export(s, "W1")), trustedKey: key.verifying).complete)
        try tamper(s, ["INSERT INTO dossier.merkle_heads VALUES (2, 'worker/W0', 1, 0)"])
        let report = try await verify(s)
        #expect(report.mismatch?.message.contains("it was inserted") == true, "\(String(describing: report.mismatch))")
        await #expect(throws: IntegrityError.self) { try await export(s, "W1") }
    }

    @Test("streams whose names differ only in Unicode normalization are two streams, as in the log")
    func normalizationTwins() {
        var heads = StreamHeads()
        heads.advance(stream: "worker/Jos\u{E9}", version: 1, leafIndex: 0)
        #expect(heads.advance(stream: "worker/Jose\u{301}", version: 1, leafIndex: 1) == 0)
        #expect(heads.count == 2)
        #expect(heads.head(of: "worker/Jos\u{E9}")?.leafIndex == 0)
        #expect(heads.proof(for: "worker/Jose\u{301}")?.index != heads.proof(for: "worker/Jos\u{E9}")?.index)
    }

    @Test("verify checks every stored node, frontier and head; prove and export refuse what a damaged tree would give")
    func storedTreeChecked() async throws {
        // 9 + 261 = 270 events: one complete node of 256 leaves is stored.
        let s = try await ledger(trainings: 261)
        let admin = try adminConnection(s.configuration)
        #expect(try admin.query("SELECT count(*) FROM dossier.merkle_nodes").scalar(Int64.self) == 1)
        #expect(try await verify(s).nodesChecked == 1)
        let firstEvent = try #require(try admin.query("SELECT event_id FROM dossier.events ORDER BY position LIMIT 1").scalar(UUID.self))
        let lastEvent = try #require(try admin.query("SELECT event_id FROM dossier.events ORDER BY position DESC LIMIT 1").scalar(UUID.self))
        let verifying = key.verifying
        func prove(_ id: UUID) async throws -> Integrity.InclusionProof {
            try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.inclusionProof($0, eventID: id, key: verifying) }
        }
        // The event itself is in the proof: its leaf hash is recomputed from what is printed.
        let proof = try await prove(firstEvent)
        guard case .object(let printed)? = proof.json["event"] else { Issue.record("no event in the proof"); return }
        #expect(printed["eventId"] == .string(firstEvent.uuidString.lowercased()))
        #expect(printed["payload"] != nil && printed["recordedAt"] != nil)

        try tamper(s, ["UPDATE dossier.merkle_nodes SET hash = decode(repeat('ab', 32), 'hex')"])
        let report = try await verify(s)
        #expect(report.mismatch?.message.contains("level 8") == true, "\(String(describing: report.mismatch))")
        // The last event's proof uses the damaged node (the hash of leaves 0..<256): refused, not printed.
        let error = await #expect(throws: IntegrityError.self) { try await prove(lastEvent) }
        if case .damaged = error {} else { Issue.record("expected damaged, got \(String(describing: error))") }
        await #expect(throws: IntegrityError.self) { try await export(s, "W1") }
    }

    @Test("a damaged frontier, head row or missing head row is found by verify and blocks export")
    func framesAndHeads() async throws {
        for (statement, expected) in [
            ("UPDATE dossier.checkpoints SET frontier = ARRAY[decode(repeat('cd', 32), 'hex')] || frontier[2:]", "frontier"),
            ("UPDATE dossier.merkle_heads SET version = version + 1 WHERE stream = 'worker/W2'", "stored head of \"worker/W2\""),
            ("DELETE FROM dossier.merkle_heads WHERE stream = 'worker/W2'", "rows were removed"),
            ("INSERT INTO dossier.merkle_heads VALUES (5, 'worker/W9', 1, 2)", "it was inserted"),
        ] {
            let s = try await ledger()
            try tamper(s, [statement])
            let report = try await verify(s)
            #expect(report.mismatch?.message.contains(expected) == true, "\(statement): \(String(describing: report.mismatch))")
            if !statement.contains("frontier") {
                await #expect(throws: IntegrityError.self, "\(statement)") { try await export(s, "W2") }
            }
        }
    }

    @Test("an event deleted after the last checkpoint is found by its stream's version gap")
    func versionGap() async throws {
        var s = try await ledger()
        _ = try await s.assess("W1", 2016, "competent")
        _ = try await s.assess("W1", 2017, "competent")
        try tamper(s, ["DELETE FROM dossier.events WHERE stream = 'worker/W1' AND version = 4"])
        let report = try await verify(s)
        #expect(report.mismatch?.message.contains("goes from version 3 to 5") == true, "\(String(describing: report.mismatch))")
    }

    @Test("the bundle reader accepts exactly the documented format")
    func strictReader() async throws {
        let s = try await ledger()
        let bundle = try await export(s, "W1")
        _ = try EvidenceBundle.verify(bytes(bundle), trustedKey: key.verifying)
        guard case .array(let events)? = bundle["events"], case .object(let first) = events[0],
            case .array(let personal)? = bundle["personal"], let note = bundle["checkpoint"]?.stringValue,
            let recordedAt = first["recordedAt"]?.stringValue, let eventID = first["eventId"]?.stringValue
        else { Issue.record("unexpected bundle"); return }
        func withFirst(_ key: String, _ value: JSONValue) -> [UInt8] {
            var changed = first
            changed[key] = value
            var copy = bundle
            copy["events"] = .array([.object(changed)] + events.dropFirst())
            return bytes(copy)
        }
        let date = String(recordedAt.prefix(10))
        for variant in [
            recordedAt.replacingOccurrences(of: "Z", with: "+00:00"), recordedAt.replacingOccurrences(of: "T", with: " "),
            recordedAt.replacingOccurrences(of: "Z", with: "000Z"), String(recordedAt.dropLast(4)) + "Z", date,
        ] {
            refused(withFirst("recordedAt", .string(variant)), "recording time")
        }
        refused(withFirst("eventId", .string(eventID.uppercased())), "event id")
        refused(withFirst("position", .fraction(1.0)), "position")
        refused(withFirst("version", .integer(-1)), "version")
        var noPersonal = bundle
        noPersonal["personal"] = nil
        refused(bytes(noPersonal), "no member \"personal\"")
        var twice = bundle
        twice["personal"] = .array(personal + personal)
        refused(bytes(twice), "a second time")
        var shortSalt = bundle
        if case .object(var entry) = personal[0] {
            entry["salt"] = .string(Data([1, 2, 3, 4]).base64EncodedString())
            shortSalt["personal"] = .array([.object(entry)])
        }
        refused(bytes(shortSalt), "salt 16 bytes")
        for (variant, expected) in [
            (String(note.dropLast()), "newline"),
            (note + "\n", "em dash"),
            (note.replacingOccurrences(of: "\ntime ", with: "\nextra line\ntime "), "heads line"),
            (note.replacingOccurrences(of: "\nheads ", with: "\nheads  "), "heads line"),
        ] {
            var changed = bundle
            changed["checkpoint"] = .string(variant)
            refused(bytes(changed), expected)
        }
        var noHead = bundle
        noHead["head"] = nil
        refused(bytes(noHead), "no member \"head\"")
        var extra = bundle
        extra["comment"] = .string("x")
        refused(bytes(extra), "unknown member")
        // Duplicate members are not JSON this reader takes.
        let text = String(decoding: bytes(bundle), as: UTF8.self)
        refused(Array(text.replacingOccurrences(of: "{\"checkpoint\"", with: "{\"stream\":\"worker/W9\",\"checkpoint\"").utf8), "JSON")
    }
}

/// A SQL string literal (tests only).
func sqlLiteral(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
