import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Tamper evidence")
struct IntegrityTests {
    let key = SigningKey(name: "test-ledger")

    /// A ledger with a few workers' records and a signed checkpoint over them.
    func checkpointed() async throws -> (Scenario, String) {
        var s = try Scenario()
        for worker in ["W1", "W2", "W3"] {
            try await s.hire(worker, "2015-03-01")
            _ = try await s.assess(worker, 2015, "excellent")
            try await s.record("training", worker, "2016-04-01", ["kind": .string("special"), "hours": .integer(8)])
        }
        let key = self.key
        let note = try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
        return (s, note)
    }

    func verify(_ configuration: DatabaseConfiguration, external: [String] = []) async throws -> Integrity.Verification {
        let key = self.key.verifying
        return try await PostgresSession.open(configuration, role: .person).run { try Integrity.verify($0, key: key, external: external) }
    }

    /// Runs statements as the superuser with the log's guards switched off.
    func tamper(_ configuration: DatabaseConfiguration, _ statements: [PostgresQuery]) throws {
        let admin = try adminConnection(configuration)
        try admin.execute("ALTER TABLE dossier.events DISABLE TRIGGER USER")
        try admin.execute("ALTER TABLE dossier.personal_data DISABLE TRIGGER USER")
        for statement in statements { try admin.query(statement) }
        try admin.execute("ALTER TABLE dossier.events ENABLE TRIGGER USER")
        try admin.execute("ALTER TABLE dossier.personal_data ENABLE TRIGGER USER")
    }

    @Test("an intact log verifies; the checkpoint is in the signed-note format and extends consistently")
    func intact() async throws {
        var (s, note) = try await checkpointed()
        #expect(note.hasPrefix("dossier/"))
        #expect(note.contains("\n9\n"))
        #expect(note.contains("\n\n— test-ledger "))
        let report = try await verify(s.configuration, external: [note])
        #expect(report.mismatch == nil)
        #expect(report.events == 9)
        #expect(report.personalChecked == 3)
        try await s.hire("W4", "2017-01-01")
        let key = self.key
        let second = try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
        #expect(try Checkpoint.verify(second, key: key.verifying).size == 10)
        let proof = try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.consistencyProof($0, from: 9, to: 10) }
        var proofHashes: [MerkleHash] = []
        if case .array(let list)? = proof["proof"] {
            proofHashes = list.compactMap { $0.stringValue.flatMap { MerkleHash(base64: $0) } }
        }
        let first = try Checkpoint.verify(note, key: key.verifying)
        let latest = try Checkpoint.verify(second, key: key.verifying)
        #expect(Merkle.verifyConsistency(from: 9, to: 10, oldRoot: first.root, newRoot: latest.root, proof: proofHashes))
        #expect(try await verify(s.configuration, external: [note, second]).mismatch == nil)
    }

    @Test("one changed payload byte is caught and the event named")
    func changedPayload() async throws {
        let (s, _) = try await checkpointed()
        let target = try adminConnection(s.configuration).query(
            "SELECT position, event_id FROM dossier.events WHERE event_type = 'assessment' AND stream = 'worker/W2'")[0]
        let position = try target.decode(Int64.self, at: 0)
        try tamper(s.configuration, ["UPDATE dossier.events SET payload = jsonb_set(payload, '{grade}', '\"competent\"') WHERE position = \(position)"])
        let mismatch = try #require(try await verify(s.configuration).mismatch)
        #expect(mismatch.position == position)
        #expect(mismatch.eventID == (try target.decode(UUID.self, at: 1)))
        #expect(mismatch.message.contains("content differs"))
    }

    @Test("a deleted row is caught at its place")
    func deletedRow() async throws {
        let (s, _) = try await checkpointed()
        try tamper(s.configuration, ["DELETE FROM dossier.personal_data WHERE event_id IN (SELECT event_id FROM dossier.events WHERE position = 4)", "DELETE FROM dossier.events WHERE position = 4"])
        let mismatch = try #require(try await verify(s.configuration).mismatch)
        #expect(mismatch.message.contains("position 4"))
        #expect(mismatch.position == 5)
    }

    @Test("two rows that swapped positions are caught")
    func swappedRows() async throws {
        let (s, _) = try await checkpointed()
        try tamper(s.configuration, [
            "UPDATE dossier.events SET position = -2 WHERE position = 2", "UPDATE dossier.events SET position = 2 WHERE position = 3",
            "UPDATE dossier.events SET position = 3 WHERE position = -2",
        ])
        let mismatch = try #require(try await verify(s.configuration).mismatch)
        #expect(mismatch.position == 2)
        #expect(mismatch.message.contains("another event"))
    }

    @Test("a forged row among checkpointed ones is caught")
    func forgedRow() async throws {
        let (s, _) = try await checkpointed()
        try tamper(s.configuration, [
            """
            INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload, effective,
                                        recorded_at, recorded_by, authority, reference)
            VALUES (0, 'worker/W9', 1, gen_random_uuid(), 'training', 1, '{"hours": 1, "kind": "special"}', '2015-01-01', now(),
                    'forger', 'nobody', 'FAKE-1')
            """
        ])
        let mismatch = try #require(try await verify(s.configuration).mismatch)
        #expect(mismatch.position == 0)
        // Rewriting the stored leaves too does not help: the signed roots no longer match.
        let admin = try adminConnection(s.configuration)
        try admin.execute("ALTER TABLE dossier.merkle_leaves DISABLE TRIGGER USER")
        try admin.execute("DELETE FROM dossier.merkle_leaves")
        let again = try #require(try await verify(s.configuration).mismatch)
        #expect(again.message.contains("root"))
    }

    @Test("altered personal data no longer matches its commitment")
    func alteredPersonalData() async throws {
        let (s, _) = try await checkpointed()
        let admin = try adminConnection(s.configuration)
        try admin.execute("ALTER TABLE dossier.personal_data DISABLE TRIGGER USER")
        try admin.execute("UPDATE dossier.personal_data SET fields = '{\"name\": \"李娜\"}' WHERE stream = 'worker/W1'")
        let mismatch = try #require(try await verify(s.configuration).mismatch)
        #expect(mismatch.message.contains("personal data"))
    }

    @Test("personal data is read a batch at a time, logged once, and a change to the last record is found")
    func personalDataInBatches() async throws {
        let (s, _) = try await checkpointed()
        let key = self.key.verifying
        let admin = try adminConnection(s.configuration)
        let records = try #require(try admin.query("SELECT count(*) FROM dossier.personal_data").scalar(Int64.self))
        #expect(records >= 3)
        let logged = { try admin.query("SELECT count(*) FROM dossier.access_log WHERE what = 'verify'").scalar(Int64.self) ?? 0 }
        let before = try logged()
        let intact = try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.verify($0, key: key, batchSize: 1) }
        #expect(intact.mismatch == nil)
        #expect(intact.personalReadable)
        #expect(intact.personalChecked == Int(records))
        #expect(try logged() == before + 1)
        // The record read last (its event is the log's latest with personal data) is altered.
        try admin.execute("ALTER TABLE dossier.personal_data DISABLE TRIGGER USER")
        try admin.execute(
            """
            UPDATE dossier.personal_data SET fields = '{"name": "王芳"}' WHERE event_id =
              (SELECT p.event_id FROM dossier.personal_data p JOIN dossier.events e USING (event_id) ORDER BY e.position DESC LIMIT 1)
            """)
        let altered = try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.verify($0, key: key, batchSize: 1) }
        let mismatch = try #require(altered.mismatch)
        #expect(mismatch.message.contains("personal data"))
        #expect(altered.personalChecked == Int(records) - 1)
        #expect(try logged() == before + 2)
    }

    @Test("a new checkpoint is refused when the stored tree is not consistent with the previous one")
    func inconsistentCheckpointRefused() async throws {
        var (s, _) = try await checkpointed()
        let admin = try adminConnection(s.configuration)
        try admin.execute("ALTER TABLE dossier.merkle_leaves DISABLE TRIGGER USER")
        try admin.execute("UPDATE dossier.merkle_leaves SET leaf_hash = sha256('forged') WHERE leaf_index = 0")
        try await s.hire("W5", "2018-01-01")
        let key = self.key
        await #expect(throws: IntegrityError.self) {
            try await PostgresSession.open(s.configuration, role: .person).run { try Integrity.checkpoint($0, key: key) }
        }
    }

    @Test("an exported bundle verifies offline and stops verifying when any byte changes")
    func bundle() async throws {
        let (s, _) = try await checkpointed()
        let key = self.key
        let bundle = try await PostgresSession.open(s.configuration, role: .person).run {
            try Integrity.exportBundle($0, subject: "W2", key: key.verifying)
        }
        let bytes = Array(JSONValue.object(bundle).canonicalText.utf8)
        let verified = try EvidenceBundle.verify(bytes, trustedKey: key.verifying)
        #expect(verified.events.count == 3)
        #expect(verified.personalVerified == 1)
        #expect(throws: EvidenceBundle.Failure.self) { try EvidenceBundle.verify(bytes, trustedKey: SigningKey(name: "other").verifying) }
        // Flip every byte in turn (a stride keeps the test short): never verifies, never crashes.
        var refused = 0
        var accepted: [Int] = []
        for index in stride(from: 0, to: bytes.count, by: 7) {
            var mutated = bytes
            mutated[index] ^= 0x01
            if (try? EvidenceBundle.verify(mutated, trustedKey: key.verifying)) == nil { refused += 1 } else { accepted.append(index) }
        }
        // A changed byte may only pass where it changes nothing the bundle proves (JSON syntax
        // that parses to the same value cannot occur in canonical text).
        #expect(accepted.isEmpty, "bytes \(accepted.prefix(5)) changed and still verified: \(accepted.prefix(3).map { String(decoding: bytes[max(0, $0 - 40)..<min(bytes.count, $0 + 40)], as: UTF8.self) })")
        #expect(refused > 100)
    }

    @Test("hostile bundles: truncated, reordered, wrong sizes, forged signature, random bytes")
    func hostileBundles() async throws {
        let (s, _) = try await checkpointed()
        let key = self.key
        let bundle = try await PostgresSession.open(s.configuration, role: .person).run {
            try Integrity.exportBundle($0, subject: "W1", key: key.verifying)
        }
        func refuse(_ object: JSONObject, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let error = #expect(throws: EvidenceBundle.Failure.self, sourceLocation: sourceLocation) {
                try EvidenceBundle.verify(Array(JSONValue.object(object).canonicalText.utf8), trustedKey: nil)
            }
            #expect(error?.description.contains(expected) == true, "\(String(describing: error))", sourceLocation: sourceLocation)
        }
        guard case .array(let events)? = bundle["events"] else { Issue.record("no events"); return }
        var truncated = bundle
        truncated["events"] = .array(Array(events.dropLast()))
        var personalLess = truncated
        personalLess["personal"] = .array([])
        // The last event removed: the signed stream head says the record goes on (issue 14).
        refuse(personalLess, "incomplete")
        var dropped = bundle
        dropped["events"] = .array(Array(events.dropFirst()))
        refuse(dropped, "version")
        var reordered = bundle
        reordered["events"] = .array([events[1], events[0]] + events.dropFirst(2))
        refuse(reordered, "version")
        var wrongSize = bundle
        if var note = bundle["checkpoint"]?.stringValue {
            note = note.replacingOccurrences(of: "\n9\n", with: "\n10\n")
            wrongSize["checkpoint"] = .string(note)
        }
        refuse(wrongSize, "signature")
        var forged = bundle
        let forger = SigningKey(name: key.name)
        if let note = bundle["checkpoint"]?.stringValue, let checkpoint = try? Checkpoint.verify(note, key: key.verifying) {
            forged["checkpoint"] = .string(try checkpoint.signed(with: forger))
        }
        refuse(forged, "signature")
        var badProof = bundle
        if case .object(var first) = events[0] {
            first["leafIndex"] = .integer(1_000_000)
            badProof["events"] = .array([.object(first)] + events.dropFirst())
        }
        refuse(badProof, "leaf index")
        refuse(JSONObject([("format", .string("dossier-bundle/1"))]), "--accept-format-1")
        refuse(JSONObject([("format", .string("dossier-bundle/2"))]), "no member")
        var random = SystemRandomNumberGenerator()
        let deadline = Date().addingTimeInterval(2)
        var tries = 0
        while Date() < deadline {
            let length = Int.random(in: 0...400, using: &random)
            let noise = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect((try? EvidenceBundle.verify(noise)) == nil)
            tries += 1
        }
        #expect(tries > 100)
    }

    @Test("an empty log is not checkpointed; a ledger holding a size-0 checkpoint from before checkpoints again and verifies")
    func emptyLogNeverBricks() async throws {
        let s = try Scenario()
        let key = self.key
        let session = PostgresSession.open(s.configuration, role: .person)
        await #expect(throws: IntegrityError.self) { try await session.run { try Integrity.checkpoint($0, key: key) } }
        #expect(try adminConnection(s.configuration).query("SELECT count(*) FROM dossier.checkpoints").scalar(Int64.self) == 0)

        // What earlier versions did: a signed checkpoint of the empty tree, stored.
        let time = Timestamp(microsecondsSinceEpoch: 1_700_000_000_000_000)
        let origin = try await session.run { try Integrity.origin($0) }
        let empty = try Checkpoint(origin: origin, size: 0, root: Merkle.emptyRoot, time: time).signed(with: key)
        try adminConnection(s.configuration).query(
            """
            INSERT INTO dossier.checkpoints (tree_size, root, signed_at, key_name, note, frontier)
            VALUES (0, \(PostgresBytea(Merkle.emptyRoot.bytes)), \(PostgresTimestamp(microsecondsSinceEpoch: time.microsecondsSinceEpoch)),
                    \(key.name), \(empty), '{}'::bytea[])
            """)
        var scenario = s
        try await scenario.hire("W1", "2015-03-01")
        let note = try await session.run { try Integrity.checkpoint($0, key: key) }
        #expect(try Checkpoint.verify(note, key: key.verifying).size == 1)
        let verification = try await verify(s.configuration)
        #expect(verification.mismatch == nil, "\(String(describing: verification.mismatch))")
    }
}
