import DossierDomain
import Foundation
import PostgresClient

/// Bulk import: judges every decision of a file in order, as if recorded one by one, and
/// writes the accepted ones, in one transaction.
///
/// All or nothing by default: any invalid or refused line and the transaction is rolled back,
/// every problem reported with its line number. With `skipInvalid`, the valid ones are written.
///
/// Memory stays flat in the length of the file: lines come in chunks; each chunk is judged and
/// staged with `COPY` inside the open transaction, and only each stream's folded state is kept.
/// What a rarer judgement needs (a retroactive decision's whole history, an idempotency key, an
/// event id) is read back from the transaction, which sees its own uncommitted rows. The import
/// holds the import barrier from start to end, so no single append interleaves with it.
public final class Importer: Sendable {
    public let session: PostgresSession
    /// How many streams' books (a worker's folded state, version, placements) stay in memory
    /// between chunks; the least recently used go first, and a stream that comes back is read
    /// again from the transaction. Memory stays bounded however many workers a file names.
    public let cachedStreams: Int

    /// The default `cachedStreams`: `DOSSIER_IMPORT_CACHED_STREAMS` when set, else 50,000 (a book
    /// took about 5.6 KB in a measured import, so up to about 280 MB). A file whose active workers
    /// outnumber the cache reads most of their streams again chunk after chunk (slower, not wrong).
    public static var defaultCachedStreams: Int {
        ProcessInfo.processInfo.environment["DOSSIER_IMPORT_CACHED_STREAMS"].flatMap { Int($0) }.map { max(1, $0) } ?? 50_000
    }

    public init(_ configuration: DatabaseConfiguration, cachedStreams: Int = Importer.defaultCachedStreams) {
        self.session = PostgresSession.open(configuration, role: .person, label: "dossier.import")
        self.cachedStreams = max(1, cachedStreams)
    }

    /// An importer on a session someone else owns (the server's pool).
    public init(session: PostgresSession, cachedStreams: Int = Importer.defaultCachedStreams) {
        self.session = session
        self.cachedStreams = max(1, cachedStreams)
    }

    /// One line of input, already read.
    public struct Line: Sendable {
        public var number: Int
        public var decision: Result<Decision, InvalidDecision>
        /// The line as written, kept in a problem's report when the line is refused.
        public var text: String?

        public init(number: Int, decision: Result<Decision, InvalidDecision>, text: String? = nil) {
            self.number = number
            self.decision = decision
            self.text = text
        }

        /// A line of JSON Lines input as read (without its line end), decoded.
        public init<Bytes: Collection<UInt8>>(number: Int, bytes: Bytes) {
            guard bytes.count <= DecisionInput.maximumDecisionBytes else {
                self.init(
                    number: number,
                    decision: .failure(
                        InvalidDecision(
                            field: nil,
                            "the line is longer than \(DecisionInput.maximumDecisionBytes) bytes, the most a decision takes "
                                + "(it is \(bytes.count))")),
                    text: String(decoding: bytes.prefix(200), as: UTF8.self) + "…")
                return
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                self.init(
                    number: number, decision: .failure(InvalidDecision(field: nil, "the line is not valid UTF-8")),
                    text: String(decoding: bytes, as: UTF8.self))
                return
            }
            self.init(number: number, decision: Result { () throws(InvalidDecision) in try DecisionCodec.decode(json: text) }, text: text)
        }
    }

    public struct Problem: Sendable, Equatable {
        public var line: Int
        public var message: String
        /// The refused line as written, when the caller gave it.
        public var input: String?
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
        /// Warnings beside accepted lines (a quota that could not be checked, say): how many,
        /// and the first few (`Run.keptWarnings`) with their line numbers.
        public var warningCount = 0
        public var warnings: [Problem] = []
        /// The places `--create-places` established (their paths), in order.
        public var createdPlaces: [String] = []
    }

    /// A place an import file uses: a placement's path (city, district, street, community) and
    /// the effective date of the decision that uses it.
    public struct PlaceUse: Sendable {
        public var path: [String]
        public var effective: CalendarDate

        public init(path: [String], effective: CalendarDate) {
            self.path = path
            self.effective = effective
        }

        /// The places a decision uses (a transfer without its city uses none: its city is the record's).
        public static func of(_ decision: Decision) -> [PlaceUse] {
            switch decision.body {
            case .hire(let hire):
                let p = hire.placement
                return [PlaceUse(path: [p.city, p.district, p.street, p.community], effective: decision.effective)]
            case .transfer(let p) where !p.city.isEmpty:
                return [PlaceUse(path: [p.city, p.district, p.street, p.community], effective: decision.effective)]
            case .temporaryPost(let post):
                guard let city = post.city, let district = post.district, let street = post.street else { return [] }
                return [PlaceUse(path: [city, district, street, post.community], effective: decision.effective)]
            default:
                return []
            }
        }
    }

    /// The authority of the place decisions `--create-places` records.
    public static let createdPlacesAuthority = "dossier import --create-places (from the placements of the import)"

    /// The place decisions that establish every place `uses` name in a city with no gazetteer in
    /// `book`: each city, district, street and community once, effective on its earliest use,
    /// parents before what lies in them.
    public static func placeDecisions(for uses: [PlaceUse], book: PlaceBook) -> [Decision] {
        var earliest: [[String]: CalendarDate] = [:]
        for use in uses where !book.hasGazetteer(city: use.path[0]) {
            for depth in 1...use.path.count {
                let prefix = Array(use.path.prefix(depth))
                earliest[prefix] = min(earliest[prefix] ?? use.effective, use.effective)
            }
        }
        return earliest.sorted { ($0.key.count, $0.key.joined(separator: "/")) < ($1.key.count, $1.key.joined(separator: "/")) }
            .map { path, date in
                let joined = path.joined(separator: "/")
                var reference = "places-from-import:" + joined
                if reference.unicodeScalars.count > 100 {
                    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                    for byte in joined.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
                    reference = "places-from-import:" + String(hash, radix: 16)
                }
                let change = PlaceChange(
                    kind: PlaceKind.allCases[path.count - 1], action: .establish, name: path.last!,
                    within: path.count > 1 ? path.dropLast().joined(separator: "/") : nil)
                return Decision(
                    kind: .place, subject: change.jurisdiction, effective: date, authority: createdPlacesAuthority,
                    reference: reference, body: .place(change))
            }
    }

    /// Progress, reported every chunk.
    public struct Progress: Sendable {
        public var phase: String
        public var done: Int
        public var total: Int?
    }

    /// Imports lines from `chunks`, called until it returns nil, in order.
    /// `createPlaces`: the places the file uses (`PlaceUse.of` each decision), to establish
    /// first those of cities with no gazetteer yet (`import --create-places`).
    public func run(
        chunks: @escaping @Sendable () throws -> [Line]?, onBehalfOf: String? = nil, skipInvalid: Bool,
        progress: (@Sendable (Progress) -> Void)? = nil, createPlaces: [PlaceUse]? = nil
    ) async throws -> Report {
        try await session.run { connection in
            // The planner's statistics lag behind a large import in its own transaction (on a new
            // ledger they say the log is empty): without this, lookups planned for a small table
            // scan or hash all of it, chunk after chunk. Every lookup here is an index probe.
            try connection.executeScript(
                "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off")
            var committing = false
            do {
                var run = try Run(connection: connection, onBehalfOf: onBehalfOf, progress: progress, cachedStreams: cachedStreams)
                let report = try run.all(chunks: chunks, skipInvalid: skipInvalid, createPlaces: createPlaces)
                if report.committed {
                    committing = true
                    try connection.executeScript("COMMIT")
                    committing = false
                    try? connection.notify(EventStore.notificationChannel)
                } else {
                    connection.rollbackQuietly()
                }
                return report
            } catch where !connection.isUsable || StoreError.isLostConnection(error) {
                connection.rollbackQuietly()
                let cause = (error as? PostgresError).map { StoreError.from($0) } ?? error
                if committing {
                    throw StoreError.outcomeUnknown(
                        "the connection to the database broke while the import was committing (\(cause)): run the same "
                            + "import again once the database answers; if it was recorded, every line is recognised as "
                            + "already recorded and nothing is written twice")
                }
                throw StoreError.notRecorded(
                    "the connection to the database broke during the import (\(cause)); the import is one transaction "
                        + "and had not committed, so none of its decisions is recorded. Run it again once the database answers.")
            } catch {
                connection.rollbackQuietly()
                throw error
            }
        }
    }

    /// A stream as far as the import has taken it.
    final class StreamBook {
        /// The last version: in the log, staged by earlier chunks, or accepted in this chunk.
        var version: Int
        /// The fold of everything so far, for the fast path of in-order decisions.
        var state: WorkerState?
        var lastEffective: CalendarDate?
        var hasHire: Bool
        /// The stream's whole history, while a chunk needs it (read back on demand).
        var history: [StoredDecision]?
        /// Decisions accepted in the current chunk, not yet staged.
        var pending: [StoredDecision] = []
        /// A worker's placement spans as `dossier.placements` holds them in this transaction:
        /// what the import's headcount index counts for the worker.
        var indexedSpans: [WorkerState.PlacementSpan] = []
        /// The chunk that last used the book (the least recently used are evicted first).
        var lastUsed = 0

        init(stored: [StoredDecision], state: WorkerState?) {
            version = stored.last?.event.version ?? 0
            lastEffective = stored.map(\.decision.effective).max()
            hasHire = stored.contains { $0.decision.kind == .hire }
            self.state = state
        }
    }

    /// One import, chunk by chunk, inside the caller's transaction.
    struct Run {
        let connection: PostgresConnection
        let onBehalfOf: String?
        let progress: (@Sendable (Progress) -> Void)?
        /// The books of the streams used lately, at most `cachedStreams` between chunks.
        var books: [StreamID: StreamBook] = [:]
        let cachedStreams: Int
        /// Chunks judged so far (the clock of `StreamBook.lastUsed`).
        var chunkCount = 0
        var references: ReferenceData
        /// The reference streams' events: the log's when the import began, then those this
        /// import accepted (positions after the log's, in order). Read again into `references`
        /// when the import corrects or rescinds a jurisdiction's or policy decision.
        var referenceEvents: [RecordedEvent]
        /// Every worker's spans counted per jurisdiction and day, as `dossier.placements` holds
        /// them in this transaction (read whole at the start, kept current chunk by chunk); no
        /// spans per worker are kept beside the books.
        let headcount = HeadcountIndex(tracksWorkers: false)
        /// Every idempotency key of the streams the import touched (in the log or accepted).
        var seenKeys = KeyFilter()
        var problems: [Problem] = []
        /// Warnings beside accepted lines (a quota that could not be checked, a city without a
        /// gazetteer): the first few, each said once, with their line numbers; all counted.
        var warnings: [Problem] = []
        var warningCount = 0
        /// How many warnings a report keeps (the rest are counted).
        static let keptWarnings = 5
        var duplicates = 0
        var lines = 0
        var written = 0
        var firstPosition: Int64?
        /// Batches appended so far in this import's transaction.
        var batchesAppended = 0

        init(connection: PostgresConnection, onBehalfOf: String?, progress: (@Sendable (Progress) -> Void)?, cachedStreams: Int) throws {
            self.connection = connection
            self.onBehalfOf = onBehalfOf
            self.progress = progress
            self.cachedStreams = cachedStreams
            // No single append may run beside the import: what is judged here stays true.
            try connection.query("SELECT dossier.take_import_barrier()")
            referenceEvents = try ReferenceData.events(connection)
            references = ReferenceData.build(referenceEvents)
            startedAt = Timestamp(try connection.query("SELECT now()").scalar(PostgresTimestamp.self)!)
            // Every city's placements, a city at a time: the quota checks count every worker.
            let cities = try connection.query("SELECT DISTINCT city FROM dossier.placements").rows.map { try $0.decode(String.self, at: 0) }
            for city in cities {
                headcount.replace([], with: try Ledger.decodeSpans(connection.query(Ledger.spansQuery(city: city))).map(\.span))
            }
        }

        /// When the import's transaction began: no line may claim to have been known later.
        let startedAt: Timestamp

        mutating func all(chunks: () throws -> [Line]?, skipInvalid: Bool, createPlaces: [PlaceUse]? = nil) throws -> Report {
            var created: [String] = []
            if let createPlaces {
                // Judged and staged like lines of the file, before them (reported as line 0).
                let decisions = Importer.placeDecisions(for: createPlaces, book: references.places)
                let before = written
                let judged = try judge(
                    prepare(decisions.map { Line(number: 0, decision: .success($0), text: JSONValue.object(DecisionCodec.json(of: $0)).canonicalText) }))
                try startStaging(judged)
                try finishStaging()
                lines -= decisions.count
                if problems.isEmpty, written > before {
                    created = decisions.compactMap { if case .place(let change) = $0.body { change.path } else { nil } }
                }
            }
            // A pipeline of two: while the database checks and appends chunk N (on a thread of its
            // own, `Staging`), chunk N+1 is judged here. Chunk N+1 is prepared (its streams and
            // keys read) before chunk N is sent, and reads nothing more until chunk N is in.
            do {
                var judged: Judged?
                while true {
                    let chunk = try chunks()
                    try finishStaging()
                    evict()
                    let prepared = try chunk.map { try prepare($0, unstaged: judged) }
                    if let judged { try startStaging(judged) }
                    judged = nil
                    guard let prepared else { break }
                    judged = try judge(prepared)
                    progress?(Progress(phase: "importing", done: lines, total: nil))
                }
                try finishStaging()
            } catch {
                staging?.wait()  // the connection is the staging thread's until it is done
                staging = nil
                throw error
            }
            problems.sort { $0.line < $1.line }
            if !problems.isEmpty && !skipInvalid {
                return Report(
                    lines: lines, written: 0, duplicates: duplicates, problems: problems, committed: false, firstPosition: nil,
                    warningCount: warningCount, warnings: warnings)
            }
            var report = Report(
                lines: lines, written: written, duplicates: duplicates, problems: problems, committed: true,
                firstPosition: firstPosition, warningCount: warningCount, warnings: warnings)
            report.createdPlaces = created
            return report
        }

        mutating func refuse(_ line: Line, _ message: String) {
            problems.append(Problem(line: line.number, message: message, input: line.text))
        }

        /// A chunk read, with what the database holds about it.
        struct Prepared {
            var decisions: [(line: Line, decision: Decision)]
            var recorded: [IdempotencyKey: StoredDecision]
            var takenIDs: Set<UUID>
        }

        /// A chunk judged, ready to stage.
        struct Judged {
            var staged: [(stream: StreamID, prepared: PreparedEvent, version: Int)]
            var lines: [Int]
            /// Workers whose spans the chunk changed, with their new spans.
            var moved: [String: [WorkerState.PlacementSpan]]
            /// What the chunk accepted, which its successor is prepared without (the database
            /// does not hold it yet): idempotency keys, event ids given, their streams.
            var keys: [IdempotencyKey: StoredDecision]
            var ids: [UUID: String]
        }

        /// The chunk being appended on its own thread, if any.
        var staging: Staging?

        /// Reads what a chunk's judging needs from the database: its streams not in memory,
        /// the idempotency keys it may reuse, the event ids it gives. The chunk before it may
        /// still be unstaged (`unstaged`): its streams are in memory, its keys and ids are added.
        mutating func prepare(_ chunk: [Line], unstaged: Judged? = nil) throws -> Prepared {
            lines += chunk.count
            chunkCount += 1
            var decisions: [(line: Line, decision: Decision)] = []
            // Where this chunk's events go, for amendments of them later in the chunk.
            var streamOf: [UUID: String] = [:]
            for line in chunk {
                switch line.decision {
                case .success(let decision):
                    let located = try Ledger.locatingAmendment(decision) { id in
                        try streamOf[id] ?? unstaged?.ids[id] ?? Ledger.event(id, on: connection)?.event.stream.rawValue
                    }
                    if let id = located.eventID { streamOf[id] = located.stream.rawValue }
                    decisions.append((line, located))
                case .failure(let error): refuse(line, error.description)
                }
            }
            // A selection is judged on the records of the workers it names.
            let named = decisions.flatMap { item -> [StreamID] in
                guard case .selection(let selection) = item.decision.body else { return [] }
                return (selection.selected + selection.passedOver).map { StreamID.worker($0) }
            }
            try loadStreams(Set(decisions.map(\.decision.stream) + named))
            let maybe = decisions.map(\.decision).filter { seenKeys.mayContain(Self.keyText($0.stream, $0.kind.rawValue, $0.reference)) }
            var recorded = try recordedKeys(maybe)
            for decision in maybe {
                let key = IdempotencyKey(stream: decision.stream, kind: decision.kind.rawValue, reference: decision.reference)
                if let accepted = unstaged?.keys[key] { recorded[key] = accepted }
            }
            let given = decisions.compactMap(\.decision.eventID)
            var takenIDs = given.isEmpty ? [] : Set(
                try connection.query("SELECT event_id FROM dossier.events WHERE event_id = ANY(\(PostgresArray(given)))").rows.map {
                    try $0.decode(UUID.self, at: 0)
                })
            for id in given where unstaged?.ids[id] != nil { takenIDs.insert(id) }
            return Prepared(decisions: decisions, recorded: recorded, takenIDs: takenIDs)
        }

        /// Judges one prepared chunk in order; what it accepts is staged by `startStaging`.
        mutating func judge(_ prepared: Prepared) throws -> Judged {
            let decisions = prepared.decisions
            var recorded = prepared.recorded
            var takenIDs = prepared.takenIDs
            var staged: [(stream: StreamID, prepared: PreparedEvent, version: Int)] = []
            var stagedLines: [Int] = []
            // Workers whose spans this chunk changed, with their new spans.
            var movedWorkers: [String: [WorkerState.PlacementSpan]] = [:]
            var acceptedKeys: [IdempotencyKey: StoredDecision] = [:]
            var acceptedIDs: [UUID: String] = [:]

            // Personal data of hires accepted in this chunk (not yet staged, so not in the database).
            var chunkPersonal: [StreamID: JSONObject] = [:]
            for (line, decision) in decisions {
                if decision.assignsWorker {
                    refuse(line, "field \"worker\": is required in an import (only `dossier record` assigns the next id of a district's series)")
                    continue
                }
                if let knownSince = decision.knownSince, knownSince > startedAt {
                    refuse(
                        line,
                        "field \"knownSince\": \(knownSince) is later than this import (\(startedAt)): it says when the old system first recorded the decision, which cannot be in the future")
                    continue
                }
                let book = books[decision.stream]!
                book.lastUsed = chunkCount
                // A decision already recorded (in the log, earlier in the file) is a retry.
                let key = IdempotencyKey(stream: decision.stream, kind: decision.kind.rawValue, reference: decision.reference)
                if let existing = recorded[key] {
                    if Ledger.saysTheSame(decision, as: existing) {
                        duplicates += 1
                    } else {
                        refuse(line, StoreError.idempotencyConflict(stream: decision.stream, existingEventID: existing.eventID).description)
                    }
                    continue
                }
                let eventID = decision.eventID ?? UUID()
                if decision.eventID != nil, !takenIDs.insert(eventID).inserted {
                    refuse(line, "field \"eventId\": \(eventID.uuidString.lowercased()) is already used by another event")
                    continue
                }
                var context = references.context
                context.headcount = headcount
                headcount.judged = decision.subjectKind == .worker ? (decision.subject, book.indexedSpans) : nil
                context.quotaCheckedEvent = eventID
                if case .selection(let selection) = decision.body {
                    for worker in selection.selected + selection.passedOver {
                        let stream = StreamID.worker(worker)
                        if let named = books[stream] {
                            let history = try history(of: named, stream)
                            if !history.isEmpty { context.namedWorkers[worker] = history }
                        }
                    }
                }
                if let target = decision.appealTarget {
                    context.appealTarget = try event(target)
                }
                if decision.kind == .hire, book.hasHire {
                    if let earlier = chunkPersonal[decision.stream] {
                        let given = decision.personal?.fields ?? JSONObject()
                        let differing = ["birthDate", "idNumber", "name"].filter {
                            given[$0] != nil && earlier[$0] != nil && given[$0] != earlier[$0]
                        }
                        context.person = PersonCheck(event: eventID, outcome: differing.isEmpty ? .same : .differs(differing))
                    } else {
                        try finishStaging()
                        context.person = try Ledger.personCheck(
                            decision, eventID: eventID, stored: [], hasHire: true, on: connection)
                    }
                }
                let verdict: Verdict
                let fast = decision.subjectKind == .worker && !decision.kind.isMeta && decision.kind != .faultTolerance
                    && decision.kind != .appeal
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
                    let places = context.places.check(resolved)
                    if violations.isEmpty, places.violations.isEmpty {
                        violations = state.apply(resolved, eventID: eventID, context: context)
                    }
                    verdict = Verdict(
                        decision: resolved, violations: places.violations + violations,
                        warnings: places.warnings + WorkerState.quotaWarnings(for: resolved, context: context))
                    newState = state
                } else {
                    verdict = Evaluator.evaluate(decision, eventID: eventID, history: try history(of: book, decision.stream), context: context)
                }
                guard verdict.accepted else {
                    refuse(line, LedgerError.refused(decision: verdict.decision, violations: verdict.violations).description)
                    continue
                }
                warningCount += verdict.warnings.count
                for warning in verdict.warnings
                where warnings.count < Self.keptWarnings && !warnings.contains(where: { $0.message == warning.description }) {
                    warnings.append(Problem(line: line.number, message: warning.description, input: nil))
                }
                let prepared = PreparedEvent(verdict: verdict, eventID: eventID)
                book.version += 1
                let stored = prepared.stored(version: book.version)
                book.pending.append(stored)
                book.history?.append(stored)
                recorded[key] = stored
                acceptedKeys[key] = stored
                if decision.eventID != nil { acceptedIDs[eventID] = decision.stream.rawValue }
                seenKeys.insert(Self.keyText(decision.stream, decision.kind.rawValue, decision.reference))
                staged.append((decision.stream, prepared, book.version))
                stagedLines.append(line.number)
                book.lastEffective = max(book.lastEffective ?? decision.effective, decision.effective)
                book.hasHire = book.hasHire || decision.kind == .hire
                if let personal = decision.personal?.fields, decision.kind == .hire || decision.kind == .correction {
                    // The latest in force: a correction's fields change those of the hire.
                    var merged = chunkPersonal[decision.stream] ?? JSONObject()
                    for (key, value) in personal { merged[key] = value }
                    chunkPersonal[decision.stream] = merged
                }
                if decision.subjectKind == .jurisdiction || decision.subjectKind == .policy {
                    var event = stored.event
                    event.position = (referenceEvents.last?.position ?? 0) + 1
                    referenceEvents.append(event)
                }
                switch decision.body {
                case .population(let year, let population):
                    references.population.record(jurisdiction: decision.subject, year: year, urbanPopulation: population, effective: decision.effective)
                case .policy(let changes):
                    references.policy.add(changes, effective: decision.effective, position: Int64.max - 1)
                case .correction, .rescission:
                    if decision.subjectKind != .worker { references = ReferenceData.build(referenceEvents) }
                case .place(let change):
                    context.places = PlaceBook()  // so the book below is changed in place, not copied
                    references.places.add(eventID: eventID, effective: decision.effective, change)
                default:
                    break
                }
                if decision.subjectKind == .worker {
                    var state = try newState
                        ?? Replay.fold(worker: decision.subject, Replay.history(history(of: book, decision.stream)), context: RuleContext(policy: references.policy)).state
                    if state.spans != book.indexedSpans {
                        headcount.replace(book.indexedSpans, with: state.spans)
                        book.indexedSpans = state.spans
                        movedWorkers[decision.subject] = state.spans
                    }
                    state.changes = []  // only `dossier history` reads them
                    book.state = state
                }
            }
            headcount.judged = nil
            return Judged(staged: staged, lines: stagedLines, moved: movedWorkers, keys: acceptedKeys, ids: acceptedIDs)
        }

        /// Sends a judged chunk to the database on the staging thread: its events, then the
        /// placements it changed. Nothing else may use the connection until `finishStaging`.
        mutating func startStaging(_ judged: Judged) throws {
            precondition(staging == nil, "one chunk is staged at a time")
            guard !judged.staged.isEmpty else { return }
            let chunk = batchesAppended
            batchesAppended += 1
            let work = StagingWork(connection: connection, judged: judged, onBehalfOf: onBehalfOf, chunk: chunk)
            staging = Staging { try work.run() }
        }

        /// Waits for the chunk being staged, if any; afterwards the database holds every event
        /// accepted so far but those of the chunk being judged.
        mutating func finishStaging() throws {
            guard let running = staging else { return }
            staging = nil
            let (judged, outcome) = try running.result()
            written += outcome.count
            if firstPosition == nil { firstPosition = outcome.firstPosition }
            var last: [StreamID: Int] = [:]
            for item in judged.staged { last[item.stream] = item.version }
            for (stream, version) in last {
                guard let book = books[stream] else { continue }
                book.pending.removeAll { $0.event.version <= version }
                book.history = nil
            }
        }

        /// Drops the least recently used books until `cachedStreams` are left (never one whose
        /// events are not yet appended).
        mutating func evict() {
            for book in books.values { book.history = nil }
            guard books.count > cachedStreams else { return }
            let byAge = books.filter { $0.value.pending.isEmpty }.map { ($0.value.lastUsed, $0.key) }.sorted { $0.0 < $1.0 }
            for (_, stream) in byAge.prefix(books.count - cachedStreams) { books[stream] = nil }
        }

        /// The event with id `id`: accepted in this chunk, or in the log (what earlier chunks
        /// staged included); nil when neither holds it.
        mutating func event(_ id: UUID) throws -> StoredDecision? {
            try finishStaging()
            for book in books.values {
                if let found = book.pending.first(where: { $0.eventID == id }) { return found }
            }
            return try Ledger.event(id, on: connection)
        }

        /// A stream's whole history: what the transaction holds, then this chunk's accepted decisions.
        mutating func history(of book: StreamBook, _ stream: StreamID) throws -> [StoredDecision] {
            if let history = book.history { return history }
            try finishStaging()
            let history = try Ledger.readDecisions(connection, stream) + book.pending
            book.history = history
            return history
        }

        /// Opens a book for each stream seen for the first time, from what the log holds.
        mutating func loadStreams(_ streams: Set<StreamID>) throws {
            let new = streams.filter { books[$0] == nil }
            guard !new.isEmpty else { return }
            let grouped = try Projector.readStreams(connection, Array(new), upTo: nil)
            // What dossier.placements holds (in this transaction) for the workers among them.
            var placed: [String: [WorkerState.PlacementSpan]] = [:]
            let workers = new.filter { $0.kind == "worker" }.map(\.subject)
            if !workers.isEmpty {
                let rows = try connection.query(
                    """
                    SELECT city, district, street, community, from_date, until_date, worker FROM dossier.placements
                     WHERE worker = ANY(\(PostgresArray(workers))) ORDER BY worker, span
                    """)
                for (worker, span) in try Ledger.decodeSpans(rows) { placed[worker, default: []].append(span) }
            }
            for stream in new {
                let stored = grouped[stream] ?? []
                for item in stored { seenKeys.insert(Self.keyText(stream, item.event.type, item.event.reference)) }
                var state: WorkerState?
                if stream.kind == "worker", !stored.isEmpty {
                    state = Replay.fold(worker: stored[0].decision.subject, Replay.history(stored), context: RuleContext(policy: references.policy)).state
                    state?.changes = []  // only `dossier history` reads them
                }
                let book = StreamBook(stored: stored, state: state)
                book.history = stored  // good for this chunk: nothing was staged for the stream yet
                book.lastUsed = chunkCount
                if stream.kind == "worker" { book.indexedSpans = placed[stream.subject] ?? [] }
                books[stream] = book
            }
        }

        static func keyText(_ stream: StreamID, _ kind: String, _ reference: String) -> String {
            stream.rawValue + "\u{0}" + kind + "\u{0}" + reference
        }

        struct IdempotencyKey: Hashable {
            var stream: StreamID
            var kind: String
            var reference: String
        }

        /// The decisions already recorded under the keys of `decisions` (by earlier chunks too).
        func recordedKeys(_ decisions: [Decision]) throws -> [IdempotencyKey: StoredDecision] {
            guard !decisions.isEmpty else { return [:] }
            let rows = try connection.query(
                """
                SELECT \(fragment: EventLog.prefixedColumns) FROM unnest(\(PostgresArray(decisions.map(\.stream.rawValue))),
                       \(PostgresArray(decisions.map(\.kind.rawValue))), \(PostgresArray(decisions.map(\.reference)))) AS k(stream, kind, reference)
                  JOIN dossier.events e ON e.stream = k.stream AND e.event_type = k.kind AND e.reference = k.reference
                """)
            var found: [IdempotencyKey: StoredDecision] = [:]
            for row in rows.rows {
                let event = try EventLog.decodeEvent(row)
                found[IdempotencyKey(stream: event.stream, kind: event.type, reference: event.reference)] = try Ledger.decision(of: event)
            }
            return found
        }

        /// Replaces the placement spans of the workers whose placements a chunk changed (after the
        /// chunk is staged: only a worker with an event may have placements), so dossier.placements
        /// in this transaction stays what the headcount index counts.
        static func writePlacements(_ moved: [String: [WorkerState.PlacementSpan]], on connection: PostgresConnection) throws {
            guard !moved.isEmpty else { return }
            let workers = moved.keys.sorted()
            try connection.copyFrom(Ledger.copyPlacements) { writer in
                for worker in workers { try Ledger.copySpans(worker: worker, moved[worker]!, into: &writer) }
            }
            try connection.query("SELECT dossier.apply_staged_placements(\(PostgresArray(workers)))")
        }
    }

    /// What the staging thread does with one judged chunk.
    struct StagingWork: @unchecked Sendable {
        let connection: PostgresConnection
        let judged: Run.Judged
        let onBehalfOf: String?
        let chunk: Int

        func run() throws -> (Run.Judged, EventLog.BatchOutcome) {
            let staged = judged.staged
            let outcome: EventLog.BatchOutcome
            do {
                outcome = try EventLog.appendBatch(
                    connection,
                    staged.lazy.map {
                        EventLog.StagedEvent(stream: $0.stream, version: $0.version, event: $0.prepared.event, personal: $0.prepared.personal)
                    },
                    onBehalfOf: onBehalfOf, chunk: chunk)
            } catch StoreError.outOfScope(let message) {
                // The database names the stream and reference it refused: name the line too.
                let index = staged.firstIndex {
                    message.contains(" \($0.prepared.event.reference) for \($0.stream.rawValue):")
                }
                throw StoreError.outOfScope(index.map { "line \(judged.lines[$0]): " }.map { $0 + message } ?? message)
            }
            try Run.writePlacements(judged.moved, on: connection)
            return (judged, outcome)
        }
    }

    /// Work on a thread of its own (blocking libpq calls stay off the cooperative pool), waited for once.
    final class Staging: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var outcome: Result<(Run.Judged, EventLog.BatchOutcome), Error>?

        init(_ work: @escaping @Sendable () throws -> (Run.Judged, EventLog.BatchOutcome)) {
            let thread = Thread { [self] in
                outcome = Result { try work() }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }

        /// Blocks until the work is done.
        func wait() {
            done.wait()
            done.signal()
        }

        func result() throws -> (Run.Judged, EventLog.BatchOutcome) {
            wait()
            return try outcome!.get()
        }
    }
}
