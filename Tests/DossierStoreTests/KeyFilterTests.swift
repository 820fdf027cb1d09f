@testable import DossierStore
import Testing

@Suite("The importer's key filter")
struct KeyFilterTests {
    @Test("never forgets a key it was given, and rarely claims one it was not")
    func bloom() {
        var filter = KeyFilter()
        let given = (0..<50_000).map { "worker/W-\($0)\u{0}training\u{0}T-\($0 * 7)" }
        for key in given { filter.insert(key) }
        #expect(given.allSatisfy { filter.mayContain($0) })
        let others = (0..<50_000).map { "worker/W-\($0)\u{0}training\u{0}T-\($0 * 7 + 1)" }
        let falsePositives = others.filter { filter.mayContain($0) }.count
        #expect(falsePositives < 5, "\(falsePositives) false positives in 50,000")
        #expect(!KeyFilter().mayContain("policy\u{0}policy\u{0}P-1"))
    }
}
