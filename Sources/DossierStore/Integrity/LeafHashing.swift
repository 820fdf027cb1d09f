import Dispatch
import DossierDomain
import Foundation
import PostgresClient
import Synchronization

// How `checkpoint` and `verify` read and hash the log on every core: one serial queue owns the
// connection and reads the next batch of rows while a small pool hashes this batch's events (each
// leaf hash depends on its event alone); the tree, the stream heads and the comparisons with the
// stored tree then go through the batch in leaf order on the caller's thread (cheap, and where
// order matters). Leaf hashes are computed straight from the rows' text (`CanonicalEventWriter`),
// falling back to decoding a `RecordedEvent` for any row the fast path does not take on.

/// The number of threads that hash: `DOSSIER_WORKERS` when set (tests force 1 and 4), else the
/// machine's active processors.
enum IntegrityWorkers {
    static func count(_ requested: Int? = nil) -> Int {
        if let requested { return max(1, requested) }
        if let text = ProcessInfo.processInfo.environment["DOSSIER_WORKERS"], let value = Int(text), value >= 1 {
            return min(value, 64)
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Runs `body` on every chunk index in `0..<chunks`, on up to `workers` threads (the caller's
    /// among them), and returns when all are done. Chunks are taken in turn as threads get free.
    static func run(workers: Int, chunks: Int, _ body: (Int) -> Void) {
        if workers <= 1 || chunks <= 1 {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        let next = Atomic<Int>(0)
        // Each chunk is one thread's alone; the caller waits for all of them.
        withoutActuallyEscaping(body) { body in
            let shared = Handed(value: body)
            DispatchQueue.concurrentPerform(iterations: min(workers, chunks)) { _ in
                while true {
                    let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard chunk < chunks else { return }
                    shared.value(chunk)
                }
            }
        }
    }
}

/// A value handed between the reading queue and the caller's thread, which never use it at the
/// same time (each hand-over goes through a semaphore).
struct Handed<Value>: @unchecked Sendable {
    var value: Value
}

/// The connection, owned by a serial queue while a checkpoint or verification streams the log:
/// every use of it goes through `async` (reads ahead) or `sync`.
final class ConnectionLane: @unchecked Sendable {
    private let queue = DispatchQueue(label: "dossier.integrity.reader")
    private let connection: PostgresConnection

    init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    /// Starts `body` on the connection after whatever was started before.
    func async<T>(_ body: @escaping (PostgresConnection) throws -> T) -> Pending<T> {
        let pending = Pending<T>()
        let work = Handed(value: body)
        let connection = Handed(value: self.connection)
        queue.async {
            let result = Result { try work.value(connection.value) }
            pending.fulfil(result)
        }
        return pending
    }

    /// Waits until everything started is done: the caller may use the connection again.
    func drain() {
        queue.sync {}
    }

    /// Runs `body` on the connection after whatever was started before, and waits for it.
    func sync<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in
            try async(body).wait()
        }
    }
}

/// The result of work started on a `ConnectionLane`.
final class Pending<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?

    fileprivate func fulfil(_ result: Result<T, Error>) {
        self.result = result
        done.signal()
    }

    /// Waits for the result; later calls give the same result. Called from one thread only.
    func wait() throws -> T {
        if !waited {
            done.wait()
            waited = true
        }
        return try result!.get()
    }

    private var waited = false
}

/// What hashing one event row gives the ordered pass.
struct HashedLeaf: Sendable {
    var hash: MerkleHash
    var position: Int64
    var version: Int
    var eventID: UUID
    /// A hash of the stream name's bytes, for `StreamHeadTable`.
    var streamHash: Int
}

extension EventLog {
    /// Up to `limit` rows of `dossier.events` after `position`, in position order, undecoded (the
    /// columns of `columns`): for readers that take the values straight from the rows.
    static func readRows(_ connection: PostgresConnection, after position: Int64, limit: Int) throws -> QueryResult {
        do {
            return try connection.query(
                """
                SELECT \(fragment: columns) FROM dossier.events
                 WHERE position > \(position)
                 ORDER BY position
                 LIMIT \(limit)
                """)
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }
}

enum LeafHashing {
    /// Rows per chunk a hashing thread takes at a time.
    static let chunkSize = 500

    /// The leaf of every row of `rows` (read with `EventLog.columns`), hashed on `workers`
    /// threads. Throws what decoding the first undecodable row throws, as reading the batch
    /// with `EventLog.readAll` would.
    static func hash(_ rows: QueryResult, workers: Int) throws -> [HashedLeaf] {
        let count = rows.rowCount
        guard count > 0 else { return [] }
        let chunks = (count + chunkSize - 1) / chunkSize
        var leaves = [HashedLeaf?](repeating: nil, count: count)
        var failures = [(row: Int, error: Error)?](repeating: nil, count: chunks)
        leaves.withUnsafeMutableBufferPointer { leaves in
            failures.withUnsafeMutableBufferPointer { failures in
                IntegrityWorkers.run(workers: workers, chunks: chunks) { chunk in
                    var writer = CanonicalEventWriter()
                    for index in chunk * chunkSize..<min(count, (chunk + 1) * chunkSize) {
                        do {
                            leaves[index] = try leaf(rows[index], writer: &writer)
                        } catch {
                            failures[chunk] = (index, error)
                            return
                        }
                    }
                }
            }
        }
        if let first = failures.lazy.compactMap({ $0 }).min(by: { $0.row < $1.row }) { throw first.error }
        return leaves.map { $0! }
    }

    /// One row's leaf: from its texts when the fast path takes them, else through `RecordedEvent`.
    static func leaf(_ row: Row, writer: inout CanonicalEventWriter) throws -> HashedLeaf {
        if let fast = fastLeaf(row, writer: &writer) { return fast }
        let event = try EventLog.decodeEvent(row)
        let streamHash = Array(event.stream.rawValue.utf8).withUnsafeBufferPointer { StreamHeadTable.hash($0) }
        return HashedLeaf(
            hash: CanonicalEvent.leafHash(event), position: event.position, version: event.version, eventID: event.eventID,
            streamHash: streamHash)
    }

    static func fastLeaf(_ row: Row, writer: inout CanonicalEventWriter) -> HashedLeaf? {
        func value<T: PostgresDecodable>(_ type: T.Type, _ column: Int) -> T? {
            row.withBytes(column) { bytes in bytes.flatMap { T.decode(postgresText: $0) } }
        }
        guard let position = value(Int64.self, 0), let version = value(Int32.self, 2),
            let eventID = row.withBytes(3, { $0.flatMap { HexText.uuid($0) ?? UUID.decode(postgresText: $0) } }),
            let schemaVersion = value(Int32.self, 5), let recordedAt = value(PostgresTimestamp.self, 8)
        else { return nil }
        // Not hashed, but decoding the event checks it is text.
        let onBehalfOfValid = row.withBytes(12) { bytes in bytes.map { UTF8Check.isValid($0) } ?? true }
        guard onBehalfOfValid else { return nil }
        return row.withBytes(1) { stream -> HashedLeaf? in
            guard let stream else { return nil }
            return row.withBytes(4) { type -> HashedLeaf? in
                guard let type else { return nil }
                return row.withBytes(6) { payload -> HashedLeaf? in
                    guard let payload else { return nil }
                    return row.withBytes(7) { effective -> HashedLeaf? in
                        guard let effective else { return nil }
                        return row.withBytes(9) { recordedBy -> HashedLeaf? in
                            guard let recordedBy else { return nil }
                            return row.withBytes(10) { authority -> HashedLeaf? in
                                guard let authority else { return nil }
                                return row.withBytes(11) { reference -> HashedLeaf? in
                                    guard let reference,
                                        let hash = writer.leafHash(
                                            position: position, stream: stream, version: version, eventID: eventID, type: type,
                                            schemaVersion: schemaVersion, payload: payload, effective: effective,
                                            recordedAt: recordedAt.microsecondsSinceEpoch, recordedBy: recordedBy, authority: authority,
                                            reference: reference)
                                    else { return nil }
                                    return HashedLeaf(
                                        hash: hash, position: position, version: Int(version), eventID: eventID,
                                        streamHash: StreamHeadTable.hash(stream))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A row of `dossier.merkle_leaves` (leaf_index, position, event_id, leaf_hash) as `verify`
/// compares it with the event at its place.
struct StoredLeaf: Sendable {
    var position: Int64
    var eventID: UUID
    /// Nil when the stored value is not 32 bytes.
    var hash: MerkleHash?

    init(_ row: Row) throws {
        position = try row.decode(Int64.self, at: 1)
        eventID = try row.decode(UUID.self, at: 2)
        hash = MerkleHash(bytes: try row.decode(PostgresBytea.self, at: 3).bytes)
    }
}

extension StoredLeaf {
    /// The same values read without making arrays or strings; nil where the text is not in the
    /// form PostgreSQL writes (the caller then decodes it the usual way).
    static func fast(_ row: Row) -> StoredLeaf? {
        guard let position = row.withBytes(1, { $0.flatMap { Int64.decode(postgresText: $0) } }),
            let eventID = row.withBytes(2, { $0.flatMap { HexText.uuid($0) } }),
            let hash = row.withBytes(3, { $0.flatMap { HexText.merkleHash(bytea: $0) } })
        else { return nil }
        return StoredLeaf(position: position, eventID: eventID, hash: hash)
    }

    init(position: Int64, eventID: UUID, hash: MerkleHash?) {
        self.position = position
        self.eventID = eventID
        self.hash = hash
    }
}

/// Hexadecimal texts as PostgreSQL writes them, read into bytes.
enum HexText {
    @inline(__always)
    static func nibble(_ c: UInt8) -> UInt8? {
        let digit = c &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter &+ 10 : nil
    }

    /// A uuid in its `8-4-4-4-12` form (either case); nil for anything else.
    static func uuid(_ text: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard text.count == 36, text[8] == UInt8(ascii: "-"), text[13] == UInt8(ascii: "-"), text[18] == UInt8(ascii: "-"),
            text[23] == UInt8(ascii: "-")
        else { return nil }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &raw) { output -> Bool in
            var at = 0
            for index in 0..<16 {
                if at == 8 || at == 13 || at == 18 || at == 23 { at += 1 }
                guard let high = nibble(text[at]), let low = nibble(text[at + 1]) else { return false }
                output[index] = high << 4 | low
                at += 2
            }
            return true
        }
        return ok ? UUID(uuid: raw) : nil
    }

    /// A bytea of 32 bytes in PostgreSQL's hex output (`\x` and 64 digits); nil for anything else.
    static func merkleHash(bytea text: UnsafeBufferPointer<UInt8>) -> MerkleHash? {
        guard text.count == 66, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") else { return nil }
        var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let ok = withUnsafeMutableBytes(of: &bytes) { output -> Bool in
            for index in 0..<32 {
                guard let high = nibble(text[2 + 2 * index]), let low = nibble(text[3 + 2 * index]) else { return false }
                output[index] = high << 4 | low
            }
            return true
        }
        guard ok else { return nil }
        return withUnsafeBytes(of: bytes) { MerkleHash(rawBytes: $0) }
    }
}

extension LeafHashing {
    /// The stored leaves of `rows`, decoded on `workers` threads; nil where decoding throws (the
    /// ordered pass decodes that row again, and throws, when it gets there).
    static func decodeStored(_ rows: QueryResult, workers: Int) -> [StoredLeaf?] {
        let count = rows.rowCount
        guard count > 0 else { return [] }
        var leaves = [StoredLeaf?](repeating: nil, count: count)
        leaves.withUnsafeMutableBufferPointer { leaves in
            IntegrityWorkers.run(workers: workers, chunks: (count + chunkSize - 1) / chunkSize) { chunk in
                for index in chunk * chunkSize..<min(count, (chunk + 1) * chunkSize) {
                    leaves[index] = StoredLeaf.fast(rows[index]) ?? (try? StoredLeaf(rows[index]))
                }
            }
        }
        return leaves
    }
}

/// The head of every stream, keyed by the bytes of its name, updated once per event in leaf
/// order without making a key per event: the probe compares the row's bytes with the stored
/// name. Also keeps which streams moved since `clearMoved` (the heads a checkpoint stores).
struct StreamHeadTable {
    private struct Entry {
        var name: [UInt8]
        var hash: Int
        var version: Int
        var leafIndex: Int
        var moved: Bool
    }

    private var entries: [Entry] = []
    /// Open addressing: an entry's index + 1, or 0 for a free slot.
    private var slots = [Int32](repeating: 0, count: 1024)
    private var movedEntries: [Int] = []

    init() {}

    /// The table of `heads`, none of them moved.
    init(_ heads: StreamHeads) {
        for head in heads.sorted {
            let name = Array(head.stream.utf8)
            name.withUnsafeBufferPointer { bytes in
                _ = advance(stream: bytes, hash: Self.hash(bytes), version: head.version, leafIndex: head.leafIndex)
            }
        }
        clearMoved()
    }

    var count: Int { entries.count }

    /// FNV-1a of the name's bytes.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash)
    }

    /// Makes the event at `leafIndex` its stream's head and marks the stream moved; returns the
    /// version the stream was at before (0 when new).
    mutating func advance(stream: UnsafeBufferPointer<UInt8>, hash: Int, version: Int, leafIndex: Int) -> Int {
        let mask = slots.count - 1
        var slot = hash & mask
        while true {
            let found = Int(slots[slot])
            if found == 0 { break }
            let index = found - 1
            if entries[index].hash == hash, Self.equal(entries[index].name, stream) {
                let before = entries[index].version
                entries[index].version = version
                entries[index].leafIndex = leafIndex
                if !entries[index].moved {
                    entries[index].moved = true
                    movedEntries.append(index)
                }
                return before
            }
            slot = (slot + 1) & mask
        }
        entries.append(Entry(name: Array(stream), hash: hash, version: version, leafIndex: leafIndex, moved: true))
        movedEntries.append(entries.count - 1)
        slots[slot] = Int32(entries.count)
        if entries.count * 2 > slots.count { grow() }
        return 0
    }

    @inline(__always)
    private static func equal(_ name: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        name.withUnsafeBufferPointer { name in
            guard name.count == bytes.count else { return false }
            guard let a = name.baseAddress, let b = bytes.baseAddress else { return true }
            return memcmp(a, b, name.count) == 0
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, entry) in entries.enumerated() {
            var slot = entry.hash & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
    }

    /// Marks every stream moved.
    mutating func markAllMoved() {
        for index in entries.indices where !entries[index].moved {
            entries[index].moved = true
            movedEntries.append(index)
        }
    }

    /// Forgets which streams moved.
    mutating func clearMoved() {
        for index in movedEntries { entries[index].moved = false }
        movedEntries.removeAll(keepingCapacity: true)
    }

    /// How many streams moved since `clearMoved`.
    var movedCount: Int { movedEntries.count }

    /// The heads of the streams that moved since `clearMoved`, made one at a time as they are read.
    var movedHeads: LazyMapCollection<[Int], StreamHead> {
        movedEntries.lazy.map { [entries] in
            StreamHead(stream: String(decoding: entries[$0].name, as: UTF8.self), version: entries[$0].version, leafIndex: entries[$0].leafIndex)
        }
    }

    /// The head of the stream named by exactly these bytes, and whether it moved since `clearMoved`.
    func head(ofBytes name: [UInt8]) -> (version: Int, leafIndex: Int, moved: Bool)? {
        name.withUnsafeBufferPointer { bytes in
            let hash = Self.hash(bytes)
            let mask = slots.count - 1
            var slot = hash & mask
            while slots[slot] != 0 {
                let entry = entries[Int(slots[slot]) - 1]
                if entry.hash == hash, Self.equal(entry.name, bytes) { return (entry.version, entry.leafIndex, entry.moved) }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// The number of streams and the root of the heads tree, as `StreamHeads` gives them.
    ///
    /// Made from the table itself: entries sorted by name, each head hashed as it comes and
    /// folded into a frontier. (A `StreamHeads` copy, its sorted heads and their leaf hashes
    /// took tens of megabytes at once at 305,000 streams.)
    var summary: (count: Int, root: MerkleHash) {
        var order = Array(0..<Int32(entries.count))
        order.sort { entries[Int($0)].name.lexicographicallyPrecedes(entries[Int($1)].name) }
        var frontier = MerkleFrontier()
        for index in order {
            let entry = entries[Int(index)]
            frontier.append(StreamHead(stream: String(decoding: entry.name, as: UTF8.self), version: entry.version, leafIndex: entry.leafIndex).leafHash)
        }
        return (entries.count, frontier.root)
    }
}
