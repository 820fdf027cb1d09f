import Foundation

/// The decisions of jurisdictions and of policy as they stand: each correction applied to the
/// decision it corrects, rescinded decisions left out, the corrections and rescissions
/// themselves gone. What the population, policy and place books read.
///
/// A jurisdiction's decisions are amended the way a worker's are (`Replay.history`): a
/// correction rewrites the decision from that decision's own date as soon as it is known, so
/// the books built from the events known at a time `T` read as the record was known at `T`.
public enum JurisdictionRecord {
    /// `events` (of jurisdiction streams and the policy stream, in log order) with every
    /// amendment among them applied, in log order. Events of streams without amendments are
    /// returned as they are, without being decoded.
    public static func inForce(_ events: [RecordedEvent]) -> [RecordedEvent] {
        let amended = Set(events.lazy.filter { isAmendment($0.type) }.map(\.stream))
        guard !amended.isEmpty else { return events }
        var result: [RecordedEvent] = []
        var streams: [StreamID: [StoredDecision]] = [:]
        var originals: [UUID: RecordedEvent] = [:]
        for event in events {
            guard amended.contains(event.stream) else {
                result.append(event)
                continue
            }
            // An event this program cannot read stays as stored (the books skip what they cannot use).
            guard let stored = try? StoredDecision(event: event) else {
                result.append(event)
                continue
            }
            streams[event.stream, default: []].append(stored)
            originals[event.eventID] = event
        }
        for stored in streams.values {
            for entry in Replay.history(stored).entries {
                guard var event = originals[entry.eventID] else { continue }
                var payload = DecisionCodec.payload(of: entry.decision)
                if let exceptions = event.payload["exceptions"] { payload["exceptions"] = exceptions }
                event.payload = payload
                event.effective = entry.decision.effective
                result.append(event)
            }
        }
        return result.sorted { $0.position < $1.position }
    }

    public static func isAmendment(_ type: String) -> Bool {
        type == DecisionKind.correction.rawValue || type == DecisionKind.rescission.rawValue
    }
}
