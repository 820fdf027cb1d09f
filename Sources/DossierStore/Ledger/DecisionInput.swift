import DossierDomain
import Foundation

/// Splits input into decisions: one JSON object (possibly spread over lines) or JSON Lines.
///
/// `record`, the API and `import` read decisions the same way: each line (or the lone object) at
/// most `maximumDecisionBytes` bytes of valid UTF-8, then decoded (see `Importer.Line`) by
/// `DecisionCodec.decode`, which puts every text in NFC and applies the rules of `DecisionText`
/// (field limits in bytes, no format or control characters) before any field is read, so that
/// idempotency keys are compared and hashes computed on the same bytes whichever path sent them.
public enum DecisionInput {
    /// The most bytes one decision may take: a line of JSON Lines, or a lone JSON object.
    public static let maximumDecisionBytes = 256 * 1024

    public struct Line: Sendable {
        public var number: Int
        public var result: Result<Decision, InvalidDecision>
    }

    public static func lines(_ data: Data) -> [Line] {
        let bytes = [UInt8](data)
        // A lone object may span lines (a pretty-printed decision).
        if bytes.count <= maximumDecisionBytes, let text = String(validating: bytes, as: UTF8.self),
            let value = try? JSONParser.parse(text), case .object = value
        {
            return [Line(number: 1, result: Result { () throws(InvalidDecision) in try DecisionCodec.decode(value) })]
        }
        var lines: [Line] = []
        var number = 0
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            number += 1
            let line = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw[...]
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let decoded = Importer.Line(number: number, bytes: line)
            lines.append(Line(number: number, result: decoded.decision))
        }
        return lines
    }
}
