import Foundation

/// A progress line on a terminal (stderr): counts and rate, redrawn in place, at most a few
/// times a second. Silent when stderr is not a terminal.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let start = Date()
    private var phaseStart = Date()
    private var phase = ""
    private var lastDraw = Date.distantPast
    private let lock = NSLock()

    init(enabled: Bool = CLI.stderrIsTerminal) {
        self.enabled = enabled
    }

    func update(_ phase: String, done: Int, total: Int?) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        if phase != self.phase {
            if !self.phase.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
            self.phase = phase
            phaseStart = Date()
        }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(phaseStart), 0.001)
        let rate = Int(Double(done) / elapsed)
        let count = total.map { "\(Self.grouped(done))/\(Self.grouped($0))" } ?? Self.grouped(done)
        FileHandle.standardError.write(Data("\r\(phase): \(count) (\(Self.grouped(rate))/s)\u{1B}[K".utf8))
    }

    func finish() {
        guard enabled, !phase.isEmpty else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }
}
