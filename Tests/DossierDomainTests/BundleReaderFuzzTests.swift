import DossierDomain
import Foundation
import Testing

/// A mutation fuzzer for the bundle reader (`EvidenceBundle.verify`, what `verify-bundle` runs on
/// a file from anyone): a valid bundle built in memory (two streams, a signed checkpoint with
/// stream heads, a consistency link, personal data), mutated by byte flips, truncation, splicing,
/// inserted JSON fragments, huge and negative numbers, deep nesting, invalid UTF-8 and duplicated
/// members.
///
/// Every input must be refused with a short message, or verify to exactly the original record
/// (only whitespace may change). A trap ends the test process: the seed and iteration printed
/// first say which input. `DOSSIER_FUZZ_ITERATIONS` sets the count (about 15 s by default,
/// debug build, two cores), `DOSSIER_FUZZ_SEED` the seed.
@Suite("Fuzzing the bundle reader")
struct BundleReaderFuzzTests {
    static let key = SigningKey(name: "fuzz-ledger")

    /// A valid bundle of `worker/W-1` (3 events) in a log of 5 events over two streams, and the
    /// checkpoint of 2 events it links to.
    static func validBundle() throws -> (bytes: [UInt8], events: [RecordedEvent]) {
        var events: [RecordedEvent] = []
        let salt: [UInt8] = Array(0..<16)
        let personal = JSONObject([("name", .string("朱虹")), ("idNumber", .string("31010119800101123X"))])
        for (offset, (stream, version)) in [("worker/W-1", 1), ("worker/W-2", 1), ("worker/W-1", 2), ("worker/W-2", 2), ("worker/W-1", 3)].enumerated() {
            var payload = JSONObject([("level", .integer(Int64(8 + offset))), ("note", .string("第\(offset)条 \"quoted\" \\ \n"))])
            if offset == 0 { payload["personal"] = .string(PersonalData(fields: personal).seal(salt: salt)) }
            events.append(RecordedEvent(
                position: Int64(offset + 1), stream: StreamID(rawValue: stream), version: version,
                eventID: UUID(uuidString: String(format: "0b5f1c7e-1f0a-4c59-9a3e-5d6c2b8e4f%02x", offset))!, type: "level-change",
                schemaVersion: 1, payload: payload, effective: CalendarDate("2015-0\(offset + 1)-01")!,
                recordedAt: Timestamp(microsecondsSinceEpoch: 1_700_000_000_123_456 + Int64(offset)), recordedBy: "黄浦区人事科",
                authority: "黄浦区社会工作部", reference: "R-\(offset)"))
        }
        let leaves = events.map(CanonicalEvent.leafHash)
        let subtree: (Range<Int>) -> MerkleHash = { Merkle.root(of: Array(leaves[$0])) }
        var heads = StreamHeads()
        for (index, event) in events.enumerated() { heads.advance(stream: event.stream.rawValue, version: event.version, leafIndex: index) }
        let headProof = try #require(heads.proof(for: "worker/W-1"))
        let time = Timestamp(microsecondsSinceEpoch: 1_700_000_100_000_000)
        let note = try Checkpoint(
            origin: "dossier/fuzz", size: 5, root: Merkle.root(of: leaves), heads: Checkpoint.Heads(count: heads.count, root: heads.root),
            time: time
        ).signed(with: key)
        let older = try Checkpoint(origin: "dossier/fuzz", size: 2, root: Merkle.root(of: Array(leaves[0..<2])), time: time).signed(with: key)
        let mine = events.enumerated().filter { $0.element.stream.rawValue == "worker/W-1" }
        let proven = try mine.map { index, event in
            EvidenceBundle.ProvenEvent(event: event, leafIndex: index, proof: try Merkle.inclusionProof(index: index, size: 5, subtree: subtree))
        }
        let bundle = EvidenceBundle.encode(
            stream: .worker("W-1"), events: proven, head: EvidenceBundle.HeadProof(index: headProof.index, proof: headProof.proof),
            links: [EvidenceBundle.Link(checkpoint: older, proof: try Merkle.consistencyProof(from: 2, to: 5, subtree: subtree))],
            checkpoint: note, key: key.verifying,
            personal: [EvidenceBundle.Opening(eventID: events[0].eventID, fields: personal, salt: salt)])
        return (Array(JSONValue.object(bundle).prettyText().utf8), mine.map(\.element))
    }

    static let fragments: [String] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "null", "true", "-1", "0", "-0", "1e999", "1.5",
        "99999999999999999999999999", "\"\u{200B}\"", "\u{FEFF}", "\"position\":1,", "\"format\":\"dossier-bundle/1\",",
        "\"personal\":[],", String(repeating: "[", count: 5000), String(repeating: "{\"a\":", count: 3000),
    ]

    @Test("no mutation of a valid bundle traps or verifies as anything but the original record")
    func fuzz() throws {
        let (original, events) = try Self.validBundle()
        let verified = try EvidenceBundle.verify(original, trustedKey: Self.key.verifying)
        #expect(verified.complete && verified.events.count == 3 && verified.personalVerified == 1 && verified.linked.count == 1)

        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["DOSSIER_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 6_000
        let seed = environment["DOSSIER_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x0B0D_1E14_2026_1130
        print("bundle reader fuzz: seed \(seed), \(iterations) iterations")
        var random = FuzzRandom(state: seed)
        var refused = 0
        var accepted = 0
        for iteration in 0..<iterations {
            var bytes = original
            for _ in 0..<random.int(1...3) {
                switch random.int(0...6) {
                case 0:  // flip bits of one byte
                    let at = random.int(0...bytes.count - 1)
                    bytes[at] ^= UInt8(1 << random.int(0...7))
                case 1:  // truncate
                    bytes = Array(bytes.prefix(random.int(0...bytes.count)))
                case 2:  // delete a range
                    guard bytes.count > 2 else { break }
                    let start = random.int(0...bytes.count - 2)
                    bytes.removeSubrange(start..<min(bytes.count, start + random.int(1...64)))
                case 3:  // insert a JSON fragment
                    bytes.insert(contentsOf: Array(random.pick(Self.fragments).utf8), at: random.int(0...bytes.count))
                case 4:  // duplicate a range elsewhere (splice)
                    guard bytes.count > 2 else { break }
                    let start = random.int(0...bytes.count - 2)
                    let piece = Array(bytes[start..<min(bytes.count, start + random.int(1...200))])
                    bytes.insert(contentsOf: piece, at: random.int(0...bytes.count))
                case 5:  // invalid UTF-8 or NUL
                    bytes.insert(random.pick([0xFF, 0xC0, 0x80, 0x00, 0xED]), at: random.int(0...bytes.count))
                default:  // replace a digit
                    let digits = bytes.indices.filter { bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }
                    if !digits.isEmpty { bytes[random.pick(digits)] = UInt8(0x30 + random.int(0...9)) }
                }
            }
            do {
                let result = try EvidenceBundle.verify(bytes, trustedKey: Self.key.verifying)
                accepted += 1
                // Only a change that leaves the record as it was may pass (whitespace, in practice).
                #expect(
                    result.events.map(CanonicalEvent.leafHash) == events.map(CanonicalEvent.leafHash) && result.complete,
                    "iteration \(iteration) (seed \(seed)) verified a different record")
            } catch {
                refused += 1
                #expect(error.description.utf8.count < 2_000, "iteration \(iteration): a message of \(error.description.utf8.count) bytes: \(error.description.prefix(300))")
            }
        }
        print("bundle reader fuzz: \(refused) refused, \(accepted) accepted unchanged")
        #expect(refused > iterations / 2)
    }
}
