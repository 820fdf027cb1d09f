import DossierDomain
import Foundation
import PostgresClient

/// Bulk import: judges every decision of a file in order, as if recorded one by one, then
/// writes the accepted ones in one transaction.
///
/// All or nothing by default: any invalid or refused line and nothing is written, every
/// problem reported with its line number. With `skipInvalid`, the valid ones are written.
public final class Importer: Sendable {
    public let session: PostgresSession

    public init(_ configuration: DatabaseConfiguration) {
        self.session = PostgresSession.open(configuration, role: .writer, label: "dossier.import")
    }

    /// One line of input, already read.
    public struct Line: Sendable {
        public var number: Int
        public var decision: Result<Decision, InvalidDecision>

        public init(number: Int, decision: Result<Decision, InvalidDecision>) {
            self.number = number
            self.decision = decision
        }
    }

    public struct Problem: Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    public struct Report: Sendable {
        public var lines: Int
        /// Decisions written now.
        public var written: Int
        /// Decisions found already recorded with the same content (not written again).
        public var duplicates: Int
        public var problems: [Problem]
        /// False when problems stopped an all-or-nothing import.
        public var committed: Bool
        public var firstPosition: Int64?
    }

    /// Progress, reported every few thousand lines.
    public struct Progress: Sendable {
        public var phase: String
        public var done: Int
        public var total: Int
    }

    public func run(
        _ lines: [Line], actor: String, skipInvalid: Bool, progress: (@Sendable (Progress) -> Void)? = nil
    ) async throws -> Report {
        try await session.run { connection in
            try Self.run(lines, actor: actor, skipInvalid: skipInvalid, on: connection, progress: progress)
        }
    }

    /// A stream's decisions: those in the log and those accepted from the file so far.
    final class StreamBook {
        var stored: [StoredDecision]
        var existingCount: Int
        var pending: [PreparedEvent] = []
        /// The fold of everything so far, for the fast path of in-order decisions.
        var state: WorkerState?
        var lastEffective: CalendarDate?
        var hasHire: Bool

        init(stored: [StoredDecision]) {
            self.stored = stored
            self.existingCount = stored.count
            self.lastEffective = stored.map(\.decision.effective).max()
            self.hasHire = stored.contains { $0.decision.kind == .hire }
        }

        var version: Int { (stored.last?.event.version ?? 0) }
    }

    static func run(
        _ lines: [Line], actor: String, skipInvalid: Bool, on connection: PostgresConnection,
        progress: (@Sendable (Progress) -> Void)?
    ) throws -> Report {
        var problems: [Problem] = []
        var duplicates = 0
        let decisions = lines.compactMap { line -> (Int, Decision)? in
            switch line.decision {
            case .success(let decision): return (line.number, decision)
            case .failure(let error):
                problems.append(Problem(line: line.number, message: error.description))
                return nil
            }
        }

        // What the log already holds for the streams of the file.
        let streams = Array(Set(decisions.map { $0.1.stream.rawValue }))
        var books: [StreamID: StreamBook] = [:]
        let existing = try connection.query(
            """
            SELECT \(fragment: EventLog.columns) FROM dossier.events WHERE stream = ANY(\(PostgresArray(streams)))
             ORDER BY stream, version
            """)
        var grouped: [StreamID: [StoredDecision]] = [:]
        for row in existing.rows {
            let event = try EventLog.decodeEvent(row)
            do throws(InvalidDecision) {
                grouped[event.stream, default: []].append(try StoredDecision(event: event))
            } catch {
                throw LedgerError.unreadable(position: event.position, reason: error.description)
            }
        }
        for stream in streams.map(StreamID.init(rawValue:)) { books[stream] = StreamBook(stored: grouped[stream] ?? []) }
        let clientIDs = decisions.compactMap { $0.1.eventID }
        var takenIDs = Set(
            try connection.query("SELECT event_id FROM dossier.events WHERE event_id = ANY(\(PostgresArray(clientIDs)))")
                .rows.map { try $0.decode(UUID.self, at: 0) })

        var references = try ReferenceData.read(connection)
        let cities = Set(decisions.compactMap { item -> String? in
            if case .hire(let hire) = item.1.body { return hire.placement.city }
            return nil
        })
        var spans: [(worker: String, span: WorkerState.PlacementSpan)] = []
        for city in cities { spans += try Ledger.readSpans(connection, city: city) }
        let headcount = HeadcountIndex(spans: spans)
        var touchedWorkers = Set<String>()
        var accepted: [(stream: StreamID, index: Int)] = []

        for (offset, (lineNumber, decision)) in decisions.enumerated() {
            if offset % 5000 == 0 { progress?(Progress(phase: "checking", done: offset, total: decisions.count)) }
            let book = books[decision.stream]!
            // A decision already recorded (in the log or earlier in the file) is a retry.
            if let recorded = book.stored.first(where: { $0.event.type == decision.kind.rawValue && $0.event.reference == decision.reference }) {
                if Ledger.saysTheSame(decision, as: recorded) {
                    duplicates += 1
                } else {
                    problems.append(Problem(line: lineNumber, message: StoreError.idempotencyConflict(stream: decision.stream, existingEventID: recorded.eventID).description))
                }
                continue
            }
            let eventID = decision.eventID ?? UUID()
            if decision.eventID != nil, !takenIDs.insert(eventID).inserted {
                problems.append(Problem(line: lineNumber, message: "field \"eventId\": \(eventID.uuidString.lowercased()) is already used by another event"))
                continue
            }
            var context = references.context
            context.headcount = headcount
            context.quotaCheckedEvent = eventID
            let verdict: Verdict
            let fast = decision.kind.subject == .worker && !decision.kind.isMeta && decision.kind != .faultTolerance
                && book.state != nil && (book.lastEffective.map { decision.effective >= $0 } ?? true)
            var newState: WorkerState?
            if fast {
                var state = book.state!
                var violations: [RuleViolation] = []
                if decision.kind != .hire, !book.hasHire {
                    violations.append(RuleViolation(.unknownWorker, "no hire of worker \(decision.subject) is recorded; record the hire first"))
                } else if case .assessment(let year, _) = decision.body, state.assessments[year] != nil {
                    violations.append(RuleViolation(.oneAssessmentPerYear, "an annual assessment of \(year) is already recorded; correct it instead of adding another"))
                }
                var resolved = decision
                if case .transfer(var placement) = decision.body, placement.city.isEmpty {
                    placement.city = state.placement?.city ?? ""
                    resolved.body = .transfer(placement)
                }
                if violations.isEmpty { violations = state.apply(resolved, eventID: eventID, context: context) }
                verdict = Verdict(decision: resolved, violations: violations)
                newState = state
            } else {
                verdict = Evaluator.evaluate(decision, eventID: eventID, history: book.stored, context: context)
            }
            guard verdict.accepted else {
                problems.append(Problem(line: lineNumber, message: LedgerError.refused(decision: verdict.decision, violations: verdict.violations).description))
                continue
            }
            let prepared = PreparedEvent(verdict: verdict, eventID: eventID)
            book.stored.append(prepared.stored(version: book.version + 1))
            book.pending.append(prepared)
            book.lastEffective = max(book.lastEffective ?? decision.effective, decision.effective)
            book.hasHire = book.hasHire || decision.kind == .hire
            accepted.append((decision.stream, book.pending.count - 1))
            switch decision.body {
            case .population(let year, let population):
                references.population.record(jurisdiction: decision.subject, year: year, urbanPopulation: population, effective: decision.effective)
            case .policy(let changes):
                references.policy.add(changes, effective: decision.effective, position: Int64.max - 1)
            default:
                break
            }
            if decision.kind.subject == .worker {
                let state = newState ?? Replay.fold(worker: decision.subject, Replay.history(book.stored), context: RuleContext(policy: references.policy)).state
                if state.spans != headcount.spans(of: decision.subject) {
                    headcount.setSpans(of: decision.subject, state.spans)
                    touchedWorkers.insert(decision.subject)
                }
                book.state = state
            }
        }
        progress?(Progress(phase: "checking", done: decisions.count, total: decisions.count))
        problems.sort { $0.line < $1.line }
        if !problems.isEmpty && !skipInvalid {
            return Report(lines: lines.count, written: 0, duplicates: duplicates, problems: problems, committed: false, firstPosition: nil)
        }

        // Write everything in one transaction.
        let outcome = try connection.transaction { connection -> EventLog.BatchOutcome in
            var written = 0
            let staged = accepted.lazy.map { item -> EventLog.StagedEvent in
                let book = books[item.stream]!
                written += 1
                if written % 20000 == 0 { progress?(Progress(phase: "writing", done: written, total: accepted.count)) }
                return EventLog.StagedEvent(
                    stream: item.stream, version: book.stored[book.existingCount + item.index].event.version,
                    event: book.pending[item.index].event)
            }
            let outcome = try EventLog.appendBatch(connection, staged, recordedBy: actor)
            try connection.copyFrom("COPY dossier.personal_data (event_id, stream, fields, salt) FROM STDIN") { writer in
                for item in accepted {
                    let prepared = books[item.stream]!.pending[item.index]
                    guard let personal = prepared.personal else { continue }
                    writer.field(prepared.event.eventID)
                    writer.field(item.stream.rawValue)
                    writer.field(JSONValue.object(personal.fields).canonicalText)
                    writer.field(PostgresBytea(personal.salt))
                    try writer.endRow()
                }
            }
            if !touchedWorkers.isEmpty {
                try connection.query("DELETE FROM dossier.placements WHERE worker = ANY(\(PostgresArray(Array(touchedWorkers))))")
                try connection.copyFrom(
                    "COPY dossier.placements (worker, span, city, district, street, community, from_date, until_date) FROM STDIN"
                ) { writer in
                    for worker in touchedWorkers {
                        for (index, span) in headcount.spans(of: worker).enumerated() {
                            writer.field(worker)
                            writer.field(Int32(index + 1))
                            writer.field(span.placement.city)
                            writer.field(span.placement.district)
                            writer.field(span.placement.street)
                            writer.field(span.placement.community)
                            writer.field(PostgresDate(span.from))
                            writer.field(span.until.map(PostgresDate.init))
                            try writer.endRow()
                        }
                    }
                }
            }
            return outcome
        }
        try connection.notify(EventStore.notificationChannel)
        progress?(Progress(phase: "writing", done: accepted.count, total: accepted.count))
        return Report(
            lines: lines.count, written: outcome.count, duplicates: duplicates, problems: problems, committed: true,
            firstPosition: outcome.firstPosition)
    }
}
