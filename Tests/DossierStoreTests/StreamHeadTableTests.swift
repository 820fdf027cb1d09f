@testable import DossierDomain
@testable import DossierStore
import Testing

@Suite("The stream head table")
struct StreamHeadTableTests {
    /// Advances a table and a `StreamHeads` through the same events.
    func advanced(_ events: [(stream: String, version: Int)]) -> (StreamHeadTable, StreamHeads) {
        var table = StreamHeadTable()
        var heads = StreamHeads()
        for (leaf, event) in events.enumerated() {
            let name = Array(event.stream.utf8)
            _ = name.withUnsafeBufferPointer { table.advance(stream: $0, hash: StreamHeadTable.hash($0), version: event.version, leafIndex: leaf) }
            heads.advance(stream: name, version: event.version, leafIndex: leaf)
        }
        return (table, heads)
    }

    @Test("count, root and every head equal StreamHeads', for names in any script and with the same letters composed and decomposed")
    func summaryEqualsStreamHeads() {
        var generator = SystemRandomNumberGenerator()
        // "é" composed and decomposed are two streams: the log compares bytes.
        let names = ["worker/W1", "worker/W10", "worker/李娜", "worker/e\u{301}", "worker/\u{e9}", "policy", "jurisdiction/临江市"]
            + (0..<3000).map { "worker/D\($0 % 16)-\($0)" }
        for size in [0, 1, 2, 3, 7, 100, 5000] {
            var versions: [[UInt8]: Int] = [:]  // by bytes: String's == takes é composed and decomposed as one
            let events = (0..<size).map { _ -> (String, Int) in
                let name = names.randomElement(using: &generator)!
                versions[Array(name.utf8), default: 0] += 1
                return (name, versions[Array(name.utf8)]!)
            }
            let (table, heads) = advanced(events)
            let summary = table.summary
            #expect(summary.count == heads.count)
            #expect(summary.root == heads.root)
            for name in names {
                let expected = heads.head(ofBytes: Array(name.utf8))
                let found = table.head(ofBytes: Array(name.utf8))
                #expect(found?.version == expected?.version && found?.leafIndex == expected?.leafIndex)
            }
            // Every stream moved: the moved heads are every head, made lazily as they are read.
            #expect(table.movedHeads.count == heads.count)
            #expect(Set(table.movedHeads.map(\.description)) == Set(heads.sorted.map(\.description)))
        }
    }
}
