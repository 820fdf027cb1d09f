import DossierDomain
import Foundation

/// Splits input into decisions: one JSON object (possibly spread over lines) or JSON Lines.
public enum DecisionInput {
    public struct Line: Sendable {
        public var number: Int
        public var result: Result<Decision, InvalidDecision>
    }

    public static func lines(_ data: Data) -> [Line] {
        let text = String(decoding: data, as: UTF8.self)
        if let value = try? JSONParser.parse(text), case .object = value {
            return [Line(number: 1, result: Result { () throws(InvalidDecision) in try DecisionCodec.decode(value) })]
        }
        var lines: [Line] = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            lines.append(Line(number: number, result: Result { () throws(InvalidDecision) in try DecisionCodec.decode(json: String(line)) }))
        }
        return lines
    }
}
