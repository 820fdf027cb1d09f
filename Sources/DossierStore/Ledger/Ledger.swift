import DossierDomain
import Foundation
import PostgresClient

/// Records decisions and answers questions about one worker: the ledger's service layer.
///
/// Each `Ledger` owns one connection, acting as its login (or as the person given), on a thread
/// of its own. The database, not this code, decides who may record what: it takes the actor from
/// the session and refuses decisions outside the person's jurisdictions.
public final class Ledger: Sendable {
    public let session: PostgresSession
    public let configuration: DatabaseConfiguration
    /// The person the session's owner set the connection to act as (the server's), set again on
    /// the new connection when a broken one must be replaced to learn a commit's outcome.
    let actingFor: String?

    /// Where reads that must be logged are logged when `session` is a standby (which cannot be
    /// written): the primary. Nil when the session is the primary.
    let accessLog: PostgresSession?

    /// A ledger on `configuration`; when that is a hot standby, `primary` is where the access log
    /// is written before personal data is read there.
    public init(_ configuration: DatabaseConfiguration, role: AccessRole = .person, primary: DatabaseConfiguration? = nil) {
        self.configuration = configuration
        self.session = PostgresSession.open(configuration, role: role, label: "dossier.ledger")
        self.actingFor = nil
        self.accessLog = primary.map { PostgresSession.open($0, role: role, label: "dossier.ledger.primary") }
    }

    /// A ledger on a session someone else owns (the server's pool, which sets the person per request).
    /// `accessLog`: when `session` is a standby, a session on the primary acting as the same person.
    public init(session: PostgresSession, configuration: DatabaseConfiguration, actingFor: String? = nil, accessLog: PostgresSession? = nil) {
        self.configuration = configuration
        self.session = session
        self.actingFor = actingFor
        self.accessLog = accessLog
    }

    /// What recording a decision did.
    public struct Recorded: Sendable {
        public var eventID: UUID
        public var position: Int64
        public var version: Int
        public var recordedAt: Timestamp
        /// True when the same decision was recorded before: nothing was written now.
        public var duplicate: Bool
        /// Policy rules broken and overridden (empty for an ordinary decision).
        public var exceptions: [RuleViolation]
        /// The decision as recorded (a transfer's city filled in from the record).
        public var decision: Decision
        /// What the recorder should know but did not stop the decision (not stored; empty for a
        /// duplicate).
        public var warnings: [RuleViolation] = []

        /// The documented JSON object of a recorded decision (`record --json`, the API).
        public var json: JSONObject {
            JSONObject([
                ("eventId", .string(eventID.uuidString.lowercased())), ("position", .integer(position)),
                ("version", .integer(Int64(version))), ("recordedAt", .string(recordedAt.description)),
                ("decision", .string(decision.kind.rawValue)), ("subject", .string(decision.subject)),
                ("reference", .string(decision.reference)), ("duplicate", .bool(duplicate)),
                ("exceptions", .array(exceptions.map { .string($0.rule.rawValue) })),
                ("warnings", .array(warnings.map { .object(JSONObject([("rule", .string($0.rule.rawValue)), ("message", .string($0.message))])) })),
            ])
        }
    }

    /// Judges a decision and records it when it is accepted.
    ///
    /// - Throws: `LedgerError.refused` naming every rule broken (nothing is written);
    ///   `StoreError.idempotencyConflict` when another decision holds the same key.
    /// `onBehalfOf` is a note of whom the recorder acts for; who recorded is the session's person.
    ///
    /// When the connection breaks after the commit was sent, the outcome is learnt from the log on
    /// a new connection: the decision as recorded, or `StoreError.notRecorded`; when the database
    /// cannot be reached again within `resolveWithin`, `StoreError.outcomeUnknown`.
    public func record(_ decision: Decision, onBehalfOf: String? = nil, resolveWithin: Duration = .seconds(20)) async throws -> Recorded {
        if let problem = decision.overridePairProblem { throw problem }
        do {
            return try await session.run { connection in
                try Self.record(decision, onBehalfOf: onBehalfOf, on: connection)
            }
        } catch let unconfirmed as UnconfirmedCommit {
            return try await resolve(unconfirmed, within: resolveWithin)
        }
    }

    /// Learns whether a commit whose answer was lost happened: on a new connection, waits until the
    /// old backend is gone (its transaction committed or rolled back), then looks the decision's
    /// idempotency key up in the log.
    func resolve(_ unconfirmed: UnconfirmedCommit, within limit: Duration) async throws -> Recorded {
        let deadline = ContinuousClock.now + limit
        let key = unconfirmed.decision
        var lastProblem = "the database cannot be reached"
        while ContinuousClock.now < deadline {
            do {
                let found = try await session.run { connection -> (gone: Bool, row: Recorded?) in
                    if FaultInjection.blocksReconnection {
                        throw PostgresError(.connectionFailed, context: "unreachable (DOSSIER_FAULT)")
                    }
                    if let person = actingFor {
                        try connection.query("SELECT set_config('role', \(person), false)")
                    }
                    let alive = try connection.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = \(unconfirmed.backend)"
                    ).scalar(Int64.self) ?? 0
                    guard alive == 0 else { return (false, nil) }
                    let rows = try connection.query(
                        """
                        SELECT position, version, event_id, recorded_at FROM dossier.events
                         WHERE stream = \(key.stream.rawValue) AND event_type = \(key.kind.rawValue) AND reference = \(key.reference)
                        """
                    ).rows
                    guard let row = rows.first else { return (true, nil) }
                    let eventID = try row.decode(UUID.self, at: 2)
                    return (
                        true,
                        Recorded(
                            eventID: eventID, position: try row.decode(Int64.self, at: 0),
                            version: Int(try row.decode(Int32.self, at: 1)),
                            recordedAt: Timestamp(try row.decode(PostgresTimestamp.self, at: 3)),
                            duplicate: eventID != unconfirmed.eventID,
                            exceptions: eventID == unconfirmed.eventID ? unconfirmed.exceptions : [],
                            decision: unconfirmed.decision))
                }
                if found.gone {
                    if let recorded = found.row { return recorded }
                    throw StoreError.notRecorded(
                        "the connection to the database broke while the decision was being committed; the log, "
                            + "checked on a new connection, does not hold it. Send it again.")
                }
                lastProblem = "the transaction it was sent in has not ended yet"
            } catch let error as StoreError {
                guard case .unavailable(let reason) = error else { throw error }
                lastProblem = reason
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw StoreError.outcomeUnknown(
            "the connection to the database broke while \(key.kind.rawValue) \(key.reference) for \(key.subject) was being "
                + "committed, and whether it was recorded could not be checked (\(lastProblem)): send the same file again "
                + "(it is safe: a decision already recorded is recognised and not stored twice)")
    }

    /// The same, on a connection the caller owns.
    ///
    /// - Throws: besides the above, `UnconfirmedCommit` when the connection broke after the commit
    ///   was sent: the decision may or may not be in the log (`record` on a ledger resolves it).
    public static func record(_ decision: Decision, onBehalfOf: String? = nil, on connection: PostgresConnection) throws -> Recorded {
        if decision.knownSince != nil {
            throw InvalidDecision(
                field: "knownSince",
                "only `dossier import` takes knownSince (when a legacy system first recorded the decision); a decision recorded now is known from now: leave it out")
        }
        var decision = decision
        let assigning = decision.assignsWorker
        var attempt = 0
        while true {
            attempt += 1
            if assigning {
                // A retry of a hire already given an id is that hire; else the next id of the series.
                if let earlier = try assignedEarlier(decision, on: connection) { return earlier }
                decision.subject = try nextWorkerID(decision, on: connection)
            }
            do {
                return try recordOnce(decision, onBehalfOf: onBehalfOf, assigned: assigning, on: connection)
            } catch StoreError.wrongExpectedVersion where attempt < 5 {
                // Only a writer that did not take the stream lock first (psql) can move the stream
                // under us: judge again on what it wrote.
                continue
            } catch is WorkerIDTaken where attempt < 50 {
                // Another hire took the id between choosing it and locking its stream: the next one.
                continue
            }
        }
    }

    /// The id another hire took first.
    struct WorkerIDTaken: Error {}

    /// A hire sent without a worker id that was recorded already (same district, reference and
    /// decision, personal data included): sending it again is safe.
    static func assignedEarlier(_ decision: Decision, on connection: PostgresConnection) throws -> Recorded? {
        guard case .hire(let hire) = decision.body else { return nil }
        let rows = try connection.query(
            """
            SELECT \(fragment: EventLog.columns) FROM dossier.events
             WHERE event_type = 'hire' AND reference = \(decision.reference)
               AND payload ->> 'district' = \(hire.placement.district) AND payload ->> 'city' = \(hire.placement.city)
             ORDER BY position
            """
        ).rows
        for row in rows {
            let existing = try Self.decision(of: try EventLog.decodeEvent(row))
            var candidate = decision
            candidate.subject = existing.decision.subject
            guard saysTheSame(candidate, as: existing) else { continue }
            if let same = try? sameDecision(candidate, existing, connection) { return same }
        }
        return nil
    }

    /// The next id of the series of the district a hire places the worker in (`WorkerSeries`),
    /// skipping ids the log already holds under any stream.
    static func nextWorkerID(_ decision: Decision, on connection: PostgresConnection) throws -> String {
        guard case .hire(let hire) = decision.body else { return decision.subject }
        let ids = try connection.query(
            """
            SELECT DISTINCT worker FROM dossier.placements
             WHERE city = \(hire.placement.city) AND district = \(hire.placement.district)
            """
        ).rows.map { try $0.decode(String.self, at: 0) }
        let series = WorkerSeries.series(of: hire.placement.districtJurisdiction, ids: ids)
        var from = 1
        while true {
            let candidates = (from..<from + 20).map { series.id(after: $0) }
            let taken = Set(
                try connection.query(
                    "SELECT stream FROM dossier.events WHERE stream = ANY(\(PostgresArray(candidates.map { StreamID.worker($0).rawValue })))"
                ).rows.map { try $0.decode(String.self, at: 0) })
            if let free = candidates.first(where: { !taken.contains(StreamID.worker($0).rawValue) }) { return free }
            from += 20
        }
    }

    /// Whether decisions may be judged from workers' snapshots: yes, unless DOSSIER_JUDGE_FROM_HISTORY
    /// is set (every decision then judged from its stream's history: how `dossier-bench` measures
    /// what snapshots save).
    static var judgesFromSnapshots: Bool { getenv("DOSSIER_JUDGE_FROM_HISTORY") == nil }

    /// Judges and records one decision in one transaction, judged under the locks that keep the
    /// verdict true until it commits.
    ///
    /// 1. `begin_decision` takes the import barrier (shared) and the stream's lock and returns the
    ///    stream's version and the reference streams' (policy, populations): cached copies are used
    ///    only when they are at those versions.
    /// 2. A hire or transfer takes the quota locks of where it places the worker (a population or
    ///    policy decision, of its jurisdiction), then reads the reference data and placements.
    /// 3. Judged; refused → rolled back; accepted → appended, placements replaced, committed.
    static func recordOnce(
        _ decision: Decision, onBehalfOf: String?, assigned: Bool = false, on connection: PostgresConnection
    ) throws -> Recorded {
        let decision = try locatingAmendment(decision) { id in
            try connection.query("SELECT stream FROM dossier.events WHERE event_id = \(id)").scalar(String.self)
        }
        let stream = decision.stream
        var sentCommit = false
        let backend = connection.backendPID
        let eventID = decision.eventID ?? UUID()
        var violations: [RuleViolation] = []
        do {
            // A decision a worker's snapshot may judge reads the snapshot in the same round trip.
            let mayUseSnapshot = judgesFromSnapshots && WorkerStateSnapshot.mayJudge(decision)
            var opening: [PostgresQuery] = [
                "BEGIN",
                "SELECT o_version, o_reference_count, o_reference_last FROM dossier.begin_decision(\(stream.rawValue))",
            ]
            if mayUseSnapshot { opening.append(Snapshots.query(decision)) }
            let begun = try connection.pipeline(opening)
            let head = begun[1][0]
            let version = Int(try head.decode(Int32.self, at: 0))
            var referenceCount = try head.decode(Int64.self, at: 1)
            var referenceLast = try head.decode(Int64.self, at: 2)
            if assigned, version != 0 {
                connection.rollbackQuietly()
                throw WorkerIDTaken()
            }
            // Judged from the worker's snapshot (this process's, else the projector's) when it is
            // at the stream's and the policy stream's versions and can judge this decision; else
            // from the stream's history.
            var snapshot: WorkerStateSnapshot?
            var policyVersion = 0
            if mayUseSnapshot {
                policyVersion = try Snapshots.policyVersion(begun[2])
                // Sent again (recorded already), the history tells what was recorded.
                if try !Snapshots.recorded(begun[2]) {
                    snapshot =
                        SnapshotCache.shared.snapshot(of: stream, version: version, policyVersion: policyVersion, on: connection)
                        ?? Snapshots.decode(begun[2], version: version)
                    if let found = snapshot, !found.judges(decision) { snapshot = nil }
                }
            }
            var stored: [StoredDecision] = []
            /// Reads the stream's history to judge on; the decision as recorded when it is there already.
            func readHistory() throws -> Recorded? {
                stored = try StreamCache.shared.decisions(of: stream, atVersion: version, on: connection)
                guard let existing = stored.first(where: { $0.event.type == decision.kind.rawValue && $0.event.reference == decision.reference })
                else { return nil }
                // Recorded already: compared outside the transaction (reading its personal data
                // needs an access request committed first), with the locks let go.
                connection.rollbackQuietly()
                return try sameDecision(decision, existing, connection)
            }
            var judged = decision
            if let snapshot {
                // A transfer within the worker's city may leave the city out: filled as the rules fill it.
                if case .transfer(var placement) = judged.body, placement.city.isEmpty {
                    placement.city = snapshot.state.placement?.city ?? ""
                    judged.body = .transfer(placement)
                }
            } else {
                if let recorded = try readHistory() { return recorded }
            }
            let quota = quotaLocks(judged, stored)
            var context: RuleContext
            if quota.keys.isEmpty {
                context = try ReferenceData.current(connection, count: referenceCount, last: referenceLast).context
            } else {
                // Under the quota locks: what a concurrent hire, transfer or population decision
                // committed is read now (the reference data too), and nothing more can commit until
                // this transaction ends.
                var statements: [PostgresQuery] = quota.keys.map { "SELECT dossier.lock_jurisdiction(\($0))" }
                statements.append(ReferenceData.versionQuery)
                if let city = quota.city { statements.append(spansQuery(city: city)) }
                let results = try connection.pipeline(statements)
                let reference = results[quota.keys.count][0]
                let (count, last) = (try reference.decode(Int64.self, at: 0), try reference.decode(Int64.self, at: 1))
                if (count, last) != (referenceCount, referenceLast) {
                    // The reference streams moved before the quota locks were granted: a snapshot
                    // was folded with the policy as it was, so the history judges.
                    (referenceCount, referenceLast) = (count, last)
                    if snapshot != nil {
                        snapshot = nil
                        if let recorded = try readHistory() { return recorded }
                    }
                }
                context = try ReferenceData.current(connection, count: count, last: last).context
                if quota.city != nil {
                    // Counted where the gazetteer has them on each day (a merged district's workers in
                    // the district it merged into).
                    let places = context.places
                    context.headcount = HeadcountIndex(
                        spans: try decodeSpans(results.last!).flatMap { item in places.inForce(item.span).map { (item.worker, $0) } })
                }
            }
            var fromState: Verdict?
            if let current = snapshot {
                fromState = Evaluator.evaluate(judged, eventID: eventID, snapshot: current, context: context)
                if fromState == nil {
                    // Not expected (`judges` was asked above); were it so, the history judges, never
                    // an empty one.
                    snapshot = nil
                    if let recorded = try readHistory() { return recorded }
                }
            }
            let verdict: Verdict
            if let fromState {
                verdict = fromState
            } else {
                try Self.addOtherRecords(for: decision, stored: stored, to: &context, on: connection)
                context.person = try Self.personCheck(decision, eventID: eventID, stored: stored, on: connection)
                verdict = Evaluator.evaluate(decision, eventID: eventID, history: stored, context: context)
            }
            guard verdict.accepted else {
                connection.rollbackQuietly()
                throw LedgerError.refused(decision: verdict.decision, violations: verdict.violations)
            }
            violations = verdict.violations
            let prepared = PreparedEvent(verdict: verdict, eventID: eventID)
            var statements: [PostgresQuery] = [
                EventLog.appendStatement(
                    stream: stream, expected: version == 0 ? .noStream : .exactly(version),
                    events: [prepared.event], personal: prepared.personal.map { [$0] }, onBehalfOf: onBehalfOf)
            ]
            let appendedDecision = prepared.stored(version: version + 1)
            // The worker's snapshot after this decision, for the next one this process records.
            let nextSnapshot: WorkerStateSnapshot? =
                decision.subjectKind != .worker
                ? nil
                : snapshot.map { $0.appending(verdict.decision, eventID: eventID, version: version + 1, context: context) }
                    ?? (mayUseSnapshot
                        ? WorkerStateSnapshot(
                            worker: decision.subject, version: version + 1, stored: stored + [appendedDecision], context: context,
                            policyVersion: policyVersion) : nil)
            if decision.subjectKind == .worker, !decision.kind.leavesPlacementsAlone {
                let before = snapshot?.state.spans ?? spans(of: stored, worker: decision.subject)
                let after = nextSnapshot?.state.spans ?? spans(of: stored + [appendedDecision], worker: decision.subject)
                if before != after { statements += replaceSpans(worker: decision.subject, after) }
            }
            statements += FaultInjection.beforeCommit
            statements.append("COMMIT")
            statements += FaultInjection.afterCommit
            statements.append("SELECT pg_notify(\(EventStore.notificationChannel), '')")
            sentCommit = true
            let results: [QueryResult]
            do {
                results = try connection.pipeline(statements, separateTransactions: true)
            } catch {
                StreamCache.shared.forget(stream, on: connection)
                SnapshotCache.shared.forget(stream, on: connection)
                throw error
            }
            let outcome = try EventLog.decodeAppend(results[0])
            let appended = outcome.events[0]
            var recorded = prepared.stored(version: appended.version)
            recorded.event.position = appended.position
            recorded.event.recordedAt = appended.recordedAt
            recorded.event.recordedBy = appended.recordedBy
            if outcome.duplicate {
                StreamCache.shared.forget(stream, on: connection)
                SnapshotCache.shared.forget(stream, on: connection)
            } else {
                if snapshot == nil {
                    StreamCache.shared.append(recorded, to: stream, after: stored, version: appended.version, on: connection)
                }
                if var nextSnapshot, appended.version == version + 1 {
                    nextSnapshot.version = appended.version
                    SnapshotCache.shared.store(nextSnapshot, for: stream, on: connection)
                }
            }
            return Recorded(
                eventID: appended.eventID, position: appended.position, version: appended.version,
                recordedAt: appended.recordedAt, duplicate: outcome.duplicate, exceptions: verdict.violations,
                decision: verdict.decision, warnings: outcome.duplicate ? [] : verdict.warnings)
        } catch let error as PostgresError {
            connection.rollbackQuietly()
            if sentCommit, !connection.isUsable || error.isLostConnection {
                // The commit may have happened before the connection broke: only the log can say.
                throw UnconfirmedCommit(decision: decision, eventID: eventID, exceptions: violations, backend: backend)
            }
            throw StoreError.from(error, stream: stream)
        } catch {
            connection.rollbackQuietly()
            throw error
        }
    }

    /// A correction or rescission with `jurisdiction` amends the decision it points at in that
    /// decision's stream: a jurisdiction's own (population, place) or, when it is a policy
    /// decision, the policy stream. `streamOf` tells which stream holds an event (nil when none);
    /// the rules check afterwards that the decision amended is of that jurisdiction.
    static func locatingAmendment(_ decision: Decision, streamOf: (UUID) throws -> String?) throws -> Decision {
        guard decision.amendedSubject == .jurisdiction, let target = decision.referencedEvent,
            try streamOf(target) == StreamID.policy.rawValue
        else { return decision }
        var located = decision
        located.amendedSubject = .policy
        return located
    }

    /// A retry of a recorded decision returns the original; a different decision under the same
    /// key is a conflict.
    static func sameDecision(_ decision: Decision, _ existing: StoredDecision, _ connection: PostgresConnection) throws -> Recorded {
        var same = saysTheSame(decision, as: existing)
        if same, let personal = decision.personal {
            try connection.query("SELECT dossier.request_personal_access(\(PostgresArray([decision.stream.rawValue])), 'retry check')")
            let stored = try connection.query(
                """
                SELECT fields FROM dossier.personal_data_of(\(PostgresArray([decision.stream.rawValue])))
                 WHERE event_id = \(existing.eventID)
                """
            ).scalar(PostgresJSONB.self)
            let fields = stored.flatMap { try? JSONParser.parse($0.text) }?.objectValue
            same = fields == personal.fields
        }
        guard same else {
            throw StoreError.idempotencyConflict(stream: decision.stream, existingEventID: existing.eventID)
        }
        return Recorded(
            eventID: existing.eventID, position: existing.event.position, version: existing.event.version,
            recordedAt: existing.event.recordedAt, duplicate: true, exceptions: [], decision: existing.decision)
    }

    /// Whether a decision says the same as a recorded one: same fields (a transfer's omitted city
    /// taken as the recorded one), date and authority. The personal-data seal and the exceptions
    /// judged at recording are not part of what a decision says.
    static func saysTheSame(_ decision: Decision, as recorded: StoredDecision) -> Bool {
        var candidate = decision
        if case .transfer(var placement) = candidate.body, placement.city.isEmpty,
            case .transfer(let old) = recorded.decision.body
        {
            placement.city = old.city
            candidate.body = .transfer(placement)
        }
        var payload = recorded.event.payload
        payload["personal"] = nil
        payload["exceptions"] = nil
        return DecisionCodec.payload(of: candidate) == payload && candidate.effective == recorded.event.effective
            && candidate.authority == recorded.event.authority
    }

    /// What a selection or an appeal is judged on beyond its own stream: the records of the
    /// workers a selection names; the event an appeal is lodged against when it is not in the
    /// worker's record. Read in the decision's transaction (the other streams are not locked:
    /// a selection's named workers are judged on their records as committed now).
    static func addOtherRecords(
        for decision: Decision, stored: [StoredDecision], to context: inout RuleContext, on connection: PostgresConnection
    ) throws {
        if case .selection(let selection) = decision.body {
            let names = (selection.selected + selection.passedOver).map { StreamID.worker($0).rawValue }
            let result = try connection.query(
                """
                SELECT \(fragment: EventLog.columns) FROM dossier.events
                 WHERE stream = ANY(\(PostgresArray(names))) ORDER BY stream, version
                """)
            for row in result.rows {
                let event = try EventLog.decodeEvent(row)
                if EventLog.nonDecisionTypes.contains(event.type) { continue }
                context.namedWorkers[event.stream.subject, default: []].append(try Self.decision(of: event))
            }
        }
        if let target = decision.appealTarget, !stored.contains(where: { $0.eventID == target }) {
            context.appealTarget = try event(target, on: connection)
        }
    }

    /// For a hire under an id the log holds a hire of: how its personal data compare with the
    /// record's person's, asked of the database (dossier.identity_check, 0015), which names the
    /// identity fields that differ and answers only about people the recorder may read.
    static func personCheck(
        _ decision: Decision, eventID: UUID, stored: [StoredDecision], hasHire: Bool = false, on connection: PostgresConnection
    ) throws -> PersonCheck? {
        guard decision.kind == .hire, hasHire || stored.contains(where: { $0.decision.kind == .hire }) else { return nil }
        let fields = JSONValue.object(decision.personal?.fields ?? JSONObject()).canonicalText
        let row = try connection.query(
            "SELECT o_known, coalesce(o_has_data, false), coalesce(o_erased, false), array_to_string(o_differing, ',') FROM dossier.identity_check(\(decision.stream.rawValue), \(fields)::jsonb)"
        )[0]
        return PersonCheck(event: eventID, outcome: try personOutcome(row))
    }

    static func personOutcome(_ row: Row) throws -> PersonCheck.Outcome {
        guard try row.decode(Bool.self, at: 0) else { return .unreadable }
        guard try row.decode(Bool.self, at: 1) else { return .same }
        if try row.decode(Bool.self, at: 2) { return .erased }
        let differing = (try row.decodeIfPresent(String.self, at: 3) ?? "").split(separator: ",").map(String.init)
        return differing.isEmpty ? .same : .differs(differing)
    }

    /// The event with id `id`, decoded, or nil when the log has none.
    static func event(_ id: UUID, on connection: PostgresConnection) throws -> StoredDecision? {
        let result = try connection.query("SELECT \(fragment: EventLog.columns) FROM dossier.events WHERE event_id = \(id)")
        guard let row = result.rows.first else { return nil }
        let event = try EventLog.decodeEvent(row)
        if EventLog.nonDecisionTypes.contains(event.type) { return nil }
        return try decision(of: event)
    }

    /// The statement for the selections naming `worker` (recorded by `knownAt` when given), in
    /// log order, through the selections' index (migration 0010).
    static func selectionsQuery(worker: String, knownAt: Timestamp?) -> PostgresQuery {
        """
        SELECT \(fragment: EventLog.columns) FROM dossier.events
         WHERE event_type = 'selection' AND ((payload -> 'selected') || (payload -> 'passedOver')) ? \(worker)
           AND (\(knownAt.map(PostgresTimestamp.init))::timestamptz IS NULL OR dossier.known_time(payload, recorded_at) <= \(knownAt.map(PostgresTimestamp.init)))
         ORDER BY position
        """
    }

    /// The quota keys a decision locks before it is judged (city before district), and the city
    /// whose placements a hire or transfer reads under them.
    static func quotaLocks(_ decision: Decision, _ stored: [StoredDecision]) -> (keys: [String], city: String?) {
        switch decision.body {
        case .hire(let hire):
            return ([hire.placement.city, hire.placement.districtJurisdiction], hire.placement.city)
        case .transfer(var placement):
            if placement.city.isEmpty {
                let state = Replay.fold(worker: decision.subject, Replay.history(stored), asOf: decision.effective).state
                placement.city = state.placement?.city ?? ""
            }
            return ([placement.city, placement.districtJurisdiction], placement.city)
        case .population:
            return ([decision.subject], nil)
        case .policy(let changes):
            return (changes.jurisdiction == "*" ? [] : [changes.jurisdiction], nil)
        default:
            return ([], nil)
        }
    }

    // MARK: Reading

    /// Reads and decodes a stream's decisions.
    public static func readDecisions(_ connection: PostgresConnection, _ stream: StreamID) throws -> [StoredDecision] {
        try EventLog.readStream(connection, stream).filter { !EventLog.nonDecisionTypes.contains($0.type) }.map(decision(of:))
    }

    /// An event with its decision decoded; one this program cannot read is
    /// `LedgerError.unreadable` at its position.
    static func decision(of event: RecordedEvent) throws -> StoredDecision {
        do throws(InvalidDecision) {
            return try StoredDecision(event: event)
        } catch {
            throw LedgerError.unreadable(position: event.position, reason: error.description)
        }
    }

    /// The statement `copySpans` writes rows for.
    static let copyPlacements: PostgresQuery =
        "COPY dossier.staged_placements (worker, span, city, district, street, community, from_date, until_date) FROM STDIN"

    /// Writes a worker's placement spans as `dossier.placements` rows (numbered from 1).
    static func copySpans(worker: String, _ spans: [WorkerState.PlacementSpan], into writer: inout CopyWriter) throws {
        for (index, span) in spans.enumerated() {
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

    /// The query for the placement spans of every worker in a city (`decodeSpans` reads its rows).
    static func spansQuery(city: String) -> PostgresQuery {
        """
        SELECT city, district, street, community, from_date, until_date, worker FROM dossier.placements
         WHERE city = \(city)
        """
    }

    static func decodeSpans(_ result: QueryResult) throws -> [(worker: String, span: WorkerState.PlacementSpan)] {
        try result.rows.map { row in
            let from = try row.decode(PostgresDate.self, at: 4)
            let until = try row.decodeIfPresent(PostgresDate.self, at: 5)
            let span = WorkerState.PlacementSpan(
                placement: Decision.Placement(
                    community: try row.decode(String.self, at: 3), street: try row.decode(String.self, at: 2),
                    district: try row.decode(String.self, at: 1), city: try row.decode(String.self, at: 0)),
                from: CalendarDate(year: from.year, month: from.month, day: from.day)!,
                until: until.flatMap { CalendarDate(year: $0.year, month: $0.month, day: $0.day) })
            return (try row.decode(String.self, at: 6), span)
        }
    }

    static func spans(of stored: [StoredDecision], worker: String) -> [WorkerState.PlacementSpan] {
        Replay.fold(worker: worker, Replay.history(stored)).state.spans
    }

    /// Statements that replace one worker's placement spans (through the owner's function).
    static func replaceSpans(worker: String, _ spans: [WorkerState.PlacementSpan]) -> [PostgresQuery] {
        var statements: [PostgresQuery] = []
        if !spans.isEmpty {
            statements.append(
                """
                INSERT INTO dossier.staged_placements (worker, span, city, district, street, community, from_date, until_date)
                SELECT \(worker), s.ord, s.city, s.district, s.street, s.community, s.from_date, s.until_date
                  FROM unnest(\(PostgresArray(spans.map(\.placement.city))), \(PostgresArray(spans.map(\.placement.district))),
                              \(PostgresArray(spans.map(\.placement.street))), \(PostgresArray(spans.map(\.placement.community))),
                              \(PostgresArray(spans.map { PostgresDate($0.from) })),
                              \(PostgresArray(spans.map { $0.until.map(PostgresDate.init) })))
                       WITH ORDINALITY AS s(city, district, street, community, from_date, until_date, ord)
                """)
        }
        statements.append("SELECT dossier.apply_staged_placements(\(PostgresArray([worker])))")
        return statements
    }

    /// The person the database takes this connection to act as, with their Dossier role.
    public static func currentActor(_ connection: PostgresConnection) throws -> (name: String, role: String) {
        do {
            let row = try connection.query("SELECT name, role FROM dossier.actor()")[0]
            return (try row.decode(String.self, at: 0), try row.decode(String.self, at: 1))
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    // MARK: Questions

    /// The ids of workers whose id starts with `prefix` (at most `limit`, in order): a search by id.
    public static func workers(_ connection: PostgresConnection, startingWith prefix: String, limit: Int = 50) throws -> [String] {
        do {
            return try connection.query(
                """
                SELECT DISTINCT substr(stream, 8) FROM dossier.events
                 WHERE stream >= 'worker/' || \(prefix) AND stream < 'worker/' || \(prefix) || chr(1114111)
                 ORDER BY 1 LIMIT \(Int64(limit))
                """
            ).rows.map { try $0.decode(String.self, at: 0) }
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    /// A worker's record on `asOf` (today when nil) as known at `knownAt` (now when nil).
    public func show(worker: String, asOf: CalendarDate? = nil, knownAt: Timestamp? = nil) async throws -> WorkerReport {
        let requested = try await logAccessOnPrimary([.worker(worker)], purpose: "show")
        return try await session.run { connection in
            let subject = try Self.readSubject(connection, [.worker(worker)], knownAt: knownAt, purpose: "show", requested: requested)
            let stored = subject.stored
            guard !stored.isEmpty else { throw LedgerError.noRecord("worker \(worker)") }
            try Self.requireKnown(stored, subject: "worker \(worker)", at: knownAt)
            let references = subject.references
            let date = asOf ?? Self.today()
            let history = Replay.history(stored, knownAt: knownAt)
            let outcome = Replay.fold(worker: worker, history, asOf: date, context: references.context)
            let personal = try Self.personalRecord(subject.personal, history: history)
            let parameters = references.policy.parameters(
                city: outcome.state.placement?.city, district: outcome.state.placement?.district, on: date)
            let version = Self.knownVersion(stored, at: knownAt)
            var report = WorkerReport(
                state: outcome.state, personal: personal, asOf: date, knownAt: knownAt, parameters: parameters, version: version)
            report.selections = Replay.selections(subject.selections, worker: worker, stored: stored, asOf: date, knownAt: knownAt)
            return report
        }
    }

    /// The version of a record as known at `knownAt` (now when nil): its last event known by then.
    static func knownVersion(_ stored: [StoredDecision], at knownAt: Timestamp?) -> Int {
        stored.filter { knownAt == nil || $0.event.knownFrom <= knownAt! }.last?.event.version ?? 0
    }

    /// Refuses a question "as known at" a time before the first event of a record was known.
    static func requireKnown(_ stored: [StoredDecision], subject: String, at knownAt: Timestamp?) throws {
        guard let knownAt, let first = stored.min(by: { $0.event.knownFrom < $1.event.knownFrom })?.event,
            first.knownFrom > knownAt
        else { return }
        throw LedgerError.nothingKnown(subject: subject, first: first.knownFrom, claimed: first.knownSince != nil, knownAt: knownAt)
    }

    /// A temporary-post cadre's record on `asOf` (today when nil) as known at `knownAt` (now
    /// when nil): the cadre's temporary posts.
    public func showCadre(cadre: String, asOf: CalendarDate? = nil, knownAt: Timestamp? = nil) async throws -> CadreReport {
        let requested = try await logAccessOnPrimary([.cadre(cadre)], purpose: "show")
        return try await session.run { connection in
            let subject = try Self.readSubject(connection, [.cadre(cadre)], knownAt: knownAt, purpose: "show", requested: requested)
            let stored = subject.stored
            guard !stored.isEmpty else { throw LedgerError.noRecord("cadre \(cadre)") }
            try Self.requireKnown(stored, subject: "cadre \(cadre)", at: knownAt)
            let history = Replay.history(stored, knownAt: knownAt)
            let version = Self.knownVersion(stored, at: knownAt)
            return CadreReport(
                cadre: cadre, history: history, personal: try Self.personalRecord(subject.personal, history: history),
                asOf: asOf ?? Self.today(), knownAt: knownAt, version: version)
        }
    }

    /// What `show` knows of an id: the worker's record, or else the cadre's.
    public enum Shown: Sendable {
        case worker(WorkerReport)
        case cadre(CadreReport)

        public var json: JSONObject {
            switch self {
            case .worker(let report): report.json
            case .cadre(let report): report.json
            }
        }
    }

    /// The record of `id` as `show` gives it: a worker's, or, when no worker has that id, a
    /// temporary-post cadre's (every subject `trace` knows).
    public func showAny(_ id: String, asOf: CalendarDate? = nil, knownAt: Timestamp? = nil) async throws -> Shown {
        do {
            return .worker(try await show(worker: id, asOf: asOf, knownAt: knownAt))
        } catch LedgerError.noRecord(let subject) {
            do {
                return .cadre(try await showCadre(cadre: id, asOf: asOf, knownAt: knownAt))
            } catch LedgerError.noRecord {
                throw LedgerError.noRecord(subject)
            }
        }
    }

    /// Every event of a worker's (or cadre's) record, in log order, with what later decisions
    /// did to it.
    public func trace(subject: String) async throws -> (stream: StreamID, entries: [TraceEntry], personal: PersonalRecord?) {
        let requested = try await logAccessOnPrimary([.worker(subject), .cadre(subject)], purpose: "trace")
        return try await session.run { connection in
            let read = try Self.readSubject(
                connection, [.worker(subject), .cadre(subject)], knownAt: nil, purpose: "trace", requested: requested)
            let stored = read.stored
            guard let stream = stored.first?.event.stream else { throw LedgerError.noRecord(subject) }
            let personal = try Self.personalRecord(read.personal, history: Replay.history(stored))
            return (stream, Replay.trace(stored, selections: read.selections, context: read.references.context), personal)
        }
    }

    /// One subject's decisions (from the first of `streams` that has any), the reference data
    /// and the subject's personal-data rows, read from one snapshot in one round trip (the
    /// reference streams are read again only when they changed since this process last read them).
    ///
    /// Personal data is read through the database's logged function: the read is recorded in the
    /// access log, and withheld from roles that may not see it.
    /// On a standby: logs the read of `streams` on the primary, then waits (2 s at most) until the
    /// standby has replayed that entry, so the standby serves the personal data it allows.
    /// Returns false when the session is the primary (the read is logged there, with the read).
    func logAccessOnPrimary(_ streams: [StreamID], purpose: String) async throws -> Bool {
        guard let accessLog else { return false }
        let names = streams.map(\.rawValue)
        let position = try await accessLog.run { connection in
            try connection.query("SELECT dossier.request_personal_access(\(PostgresArray(names)), \(purpose))")
            return try ReadReplica.primaryPosition(connection)
        }
        let replayed = try await session.run { try ReadReplica.waitForReplay($0, to: position, timeout: 2) }
        guard replayed else { throw ReadReplica.Lagging() }
        return true
    }

    static func readSubject(
        _ connection: PostgresConnection, _ streams: [StreamID], knownAt: Timestamp?, purpose: String, requested: Bool = false
    ) throws -> (stored: [StoredDecision], references: ReferenceData, personal: [Row], selections: [StoredDecision]) {
        let names = streams.map(\.rawValue)
        // The read is logged and committed first, then made (dossier.personal_data_of serves only
        // reads a committed request logged); on a standby it was logged on the primary.
        let request: PostgresQuery =
            requested ? "SELECT 1" : "SELECT dossier.request_personal_access(\(PostgresArray(names)), \(purpose))"
        // The first stream's events this process decoded already are not read again: only those
        // after them (events never change; the rest comes fresh from the same snapshot).
        let cached = StreamCache.reads.entry(of: streams[0], on: connection)
        let results = try connection.pipeline([
            request,
            "BEGIN ISOLATION LEVEL REPEATABLE READ",
            cached.map { streamQuery(names[0], after: $0.version) } ?? streamQuery(names),
            ReferenceData.versionQuery,
            """
            SELECT p.event_id, p.fields, p.erased, p.stream, p.withheld, p.erased_at, p.erased_by, p.erasure_reference
              FROM dossier.personal_data_of(\(PostgresArray(names))) p
              JOIN dossier.events e ON e.event_id = p.event_id
             WHERE \(knownAt.map(PostgresTimestamp.init))::timestamptz IS NULL
                   OR dossier.known_time(e.payload, e.recorded_at) <= \(knownAt.map(PostgresTimestamp.init))
             ORDER BY e.position
            """,
            selectionsQuery(worker: streams.first(where: { $0.kind == "worker" })?.subject ?? "", knownAt: knownAt),
            "COMMIT",
        ], separateTransactions: true)
        let read = try decodeStreamVersion(results[2])
        var stored = read.stored
        if let cached {
            stored = cached.decisions + read.stored
            if read.version > cached.version {
                StreamCache.reads.store(stored, of: streams[0], version: read.version, on: connection)
            }
        } else if read.stream == streams[0] {
            StreamCache.reads.store(stored, of: streams[0], version: read.version, on: connection)
        }
        let references = try ReferenceData.current(connection, version: results[3], knownAt: knownAt)
        let stream = stored.first?.event.stream.rawValue
        let selections = stored.first?.event.stream.kind == "worker"
            ? try results[5].rows.map { try decision(of: try EventLog.decodeEvent($0)) } : []
        return (stored, references, try results[4].rows.filter { try $0.decode(String.self, at: 3) == stream }, selections)
    }

    /// The events of the first of `names` that has any, in version order.
    static func streamQuery(_ names: [String]) -> PostgresQuery {
        """
        SELECT \(fragment: EventLog.columns) FROM dossier.events
         WHERE stream = ANY(\(PostgresArray(names)))
         ORDER BY array_position(\(PostgresArray(names)), stream), version
        """
    }

    /// The events of `name` after `version`, in version order.
    static func streamQuery(_ name: String, after version: Int) -> PostgresQuery {
        """
        SELECT \(fragment: EventLog.columns) FROM dossier.events
         WHERE stream = \(name) AND version > \(Int32(version))
         ORDER BY version
        """
    }

    /// Decodes the rows of `streamQuery`: the first stream's decisions, that stream and its version
    /// (its last event's, a decision or not; 0 when there are no rows).
    static func decodeStreamVersion(_ result: QueryResult) throws -> (stored: [StoredDecision], stream: StreamID?, version: Int) {
        var stored: [StoredDecision] = []
        var stream: StreamID?
        var version = 0
        for row in result.rows {
            let event = try EventLog.decodeEvent(row)
            if let stream, stream != event.stream { break }
            stream = event.stream
            version = event.version
            if EventLog.nonDecisionTypes.contains(event.type) { continue }
            stored.append(try decision(of: event))
        }
        return (stored, stream, version)
    }

    /// The latest personal data in force, from `personal_data` rows (event id, fields, erased),
    /// skipping those of events later rescinded.
    static func personalRecord(_ rows: [Row], history: History) throws -> PersonalRecord? {
        var record: PersonalRecord?
        for row in rows {
            let eventID = try row.decode(UUID.self, at: 0)
            if history.status[eventID]?.isVoid == true { continue }
            let erased = try row.decode(Bool.self, at: 2)
            if erased {
                record = PersonalRecord(name: nil, erased: true)
                if let at = try row.decodeIfPresent(PostgresTimestamp.self, at: 5) {
                    let by = try row.decodeIfPresent(String.self, at: 6) ?? "?"
                    let reference = try row.decodeIfPresent(String.self, at: 7) ?? "?"
                    record?.erasure = "on \(Timestamp(at).date.map(\.description) ?? "?") by \(by) under \(reference)"
                }
                continue
            }
            if try row.decode(Bool.self, at: 4) {
                record = PersonalRecord(name: nil, erased: false, withheld: true)
                continue
            }
            let fields = try row.decodeIfPresent(PostgresJSONB.self, at: 1).flatMap { try? JSONParser.parse($0.text) }?.objectValue
            if let name = fields?["name"]?.stringValue { record = PersonalRecord(name: name, erased: false) }
        }
        return record
    }

    /// Today's date in UTC.
    public static func today() -> CalendarDate {
        Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000)).date!
    }
}

/// A commit whose answer never came: the connection broke after COMMIT was sent.
public struct UnconfirmedCommit: Error, Sendable, CustomStringConvertible {
    public var decision: Decision
    /// The id the event would have (the sender's, or the one chosen for this attempt).
    public var eventID: UUID
    var exceptions: [RuleViolation]
    /// The server process of the broken connection: its transaction is over once it is gone.
    var backend: Int32

    public var description: String {
        "the connection broke while \(decision.kind.rawValue) \(decision.reference) for \(decision.subject) was being committed"
    }
}

/// Faults tests inject into the write path through `DOSSIER_FAULT` (unset in normal use): the
/// server process ends its own connection just before or just after a decision's COMMIT, and the
/// outcome check cannot reconnect.
enum FaultInjection {
    static let setting = ProcessInfo.processInfo.environment["DOSSIER_FAULT"] ?? ""
    static let endSession: PostgresQuery = "SELECT pg_terminate_backend(pg_backend_pid())"

    static var beforeCommit: [PostgresQuery] { setting.contains("lose-connection-before-commit") ? [endSession] : [] }
    static var afterCommit: [PostgresQuery] { setting.contains("lose-connection-after-commit") ? [endSession] : [] }

    static var blocksReconnection: Bool { setting.contains("no-reconnection") }
}

/// What this process keeps of streams it read or wrote lately, by database and stream, a few
/// thousand at most (the oldest quarter is let go when full). Each use checks what it takes
/// against the stream's current version.
final class ProcessCache<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: Value] = [:]
    private var order: [String] = []
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    private func key(_ stream: StreamID, _ connection: PostgresConnection) -> String {
        connection.databaseIdentity + "#" + stream.rawValue
    }

    func value(of stream: StreamID, on connection: PostgresConnection) -> Value? {
        let key = key(stream, connection)
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func store(_ value: Value, of stream: StreamID, on connection: PostgresConnection) {
        let key = key(stream, connection)
        lock.lock()
        defer { lock.unlock() }
        if entries.updateValue(value, forKey: key) == nil {
            order.append(key)
            if order.count > capacity {
                for old in order.prefix(capacity / 4) { entries[old] = nil }
                order.removeFirst(capacity / 4)
            }
        }
    }

    func forget(_ stream: StreamID, on connection: PostgresConnection) {
        let key = key(stream, connection)
        lock.lock()
        entries[key] = nil
        lock.unlock()
    }
}

/// The streams this process read or wrote lately, decoded, so that recording one more decision
/// for the same worker needs no read. A copy is used only when the stream is at the version it
/// was taken at (read under the stream's lock), so a stale copy is never judged on.
final class StreamCache: @unchecked Sendable {
    /// What recording reads and writes (its own decisions cached as sent, with the log's position and time).
    static let shared = StreamCache(capacity: 20_000)
    /// What `show` and `trace` read: only events as the log returned them.
    static let reads = StreamCache(capacity: 5_000)
    /// Each stream's decisions and the stream's version when they were read (a stream's version
    /// counts events that are not decisions, such as an erasure, too).
    private let entries: ProcessCache<(version: Int, decisions: [StoredDecision])>

    init(capacity: Int) {
        entries = ProcessCache(capacity: capacity)
    }

    /// The stream's decisions when the stream is at `version`: the cached copy when it was taken
    /// at that version, else read afresh (and cached).
    func decisions(of stream: StreamID, atVersion version: Int, on connection: PostgresConnection) throws -> [StoredDecision] {
        if let cached = entries.value(of: stream, on: connection), cached.version == version { return cached.decisions }
        let read = try Ledger.readDecisions(connection, stream)
        entries.store((version, read), of: stream, on: connection)
        return read
    }

    func append(_ decision: StoredDecision, to stream: StreamID, after previous: [StoredDecision], version: Int, on connection: PostgresConnection) {
        entries.store((version, previous + [decision]), of: stream, on: connection)
    }

    /// The cached copy of a stream, at whatever version it was taken (for reading what came after).
    func entry(of stream: StreamID, on connection: PostgresConnection) -> (version: Int, decisions: [StoredDecision])? {
        entries.value(of: stream, on: connection)
    }

    func store(_ decisions: [StoredDecision], of stream: StreamID, version: Int, on connection: PostgresConnection) {
        entries.store((version, decisions), of: stream, on: connection)
    }

    func forget(_ stream: StreamID, on connection: PostgresConnection) {
        entries.forget(stream, on: connection)
    }
}

/// The workers' snapshots this process folded or read lately (`WorkerStateSnapshot`), so that the
/// next decision for a worker is judged without reading anything but the stream's version. Used
/// only at the versions it was folded at, checked under the stream's lock.
final class SnapshotCache: @unchecked Sendable {
    static let shared = SnapshotCache()
    private let entries = ProcessCache<WorkerStateSnapshot>(capacity: 10_000)

    /// The cached snapshot of `stream` when it was folded at these versions.
    func snapshot(of stream: StreamID, version: Int, policyVersion: Int, on connection: PostgresConnection) -> WorkerStateSnapshot? {
        guard let entry = entries.value(of: stream, on: connection), entry.version == version, entry.policyVersion == policyVersion
        else { return nil }
        return entry
    }

    func store(_ snapshot: WorkerStateSnapshot, for stream: StreamID, on connection: PostgresConnection) {
        entries.store(snapshot, of: stream, on: connection)
    }

    func forget(_ stream: StreamID, on connection: PostgresConnection) {
        entries.forget(stream, on: connection)
    }
}

/// The event a verdict becomes, with its personal data sealed.
struct PreparedEvent {
    var event: NewEvent
    var decision: Decision
    var personal: (fields: JSONObject, salt: [UInt8])?

    init(verdict: Verdict, eventID: UUID) {
        let decision = verdict.decision
        var payload = DecisionCodec.payload(of: decision)
        if verdict.isException {
            payload["exceptions"] = .array(Array(Set(verdict.violations.map(\.rule.rawValue))).sorted().map(JSONValue.string))
        }
        if let personal = decision.personal {
            var generator = SystemRandomNumberGenerator()
            let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            payload["personal"] = .string(personal.seal(salt: salt))
            self.personal = (personal.fields, salt)
        }
        self.decision = decision
        self.event = NewEvent(
            eventID: eventID, type: decision.kind.rawValue, schemaVersion: DecisionCodec.currentSchemaVersion(of: decision.kind),
            payload: payload, effective: decision.effective, authority: decision.authority, reference: decision.reference)
    }

    /// The event as it will read back from the log (position and time are placeholders).
    func stored(version: Int) -> StoredDecision {
        var decision = self.decision
        decision.personal = nil
        return StoredDecision(
            event: RecordedEvent(
                position: Int64.max, stream: decision.stream, version: version, eventID: event.eventID, type: event.type,
                schemaVersion: event.schemaVersion, payload: event.payload, effective: event.effective,
                recordedAt: Timestamp(microsecondsSinceEpoch: Int64.max), recordedBy: "", authority: event.authority,
                reference: event.reference),
            decision: decision)
    }
}

/// The policy and jurisdiction streams, which every judgement reads.
struct ReferenceData: Sendable {
    var policy: PolicyBook
    var population: PopulationBook
    /// The gazetteer, from the place decisions of the jurisdiction streams.
    var places = PlaceBook()

    var context: RuleContext {
        var context = RuleContext(policy: policy, population: population)
        context.places = places
        return context
    }

    /// The statement that tells whether the reference streams changed: their count and last
    /// position, as a trigger keeps them (`schema/0019`; counting them took 8 ms at 53,553 places).
    static let versionQuery: PostgresQuery = "SELECT n, last FROM dossier.reference_version"

    static func read(_ connection: PostgresConnection, knownAt: Timestamp? = nil) throws -> ReferenceData {
        if knownAt == nil, cache.holds(connection.databaseIdentity) {
            let row = try connection.query(versionQuery)[0]
            return try current(connection, count: try row.decode(Int64.self, at: 0), last: try row.decode(Int64.self, at: 1))
        }
        return try load(connection, knownAt: knownAt)
    }

    /// The data for a row of `versionQuery` already read: the cached copy when it is still
    /// current, else read afresh.
    static func current(_ connection: PostgresConnection, version: QueryResult, knownAt: Timestamp?) throws -> ReferenceData {
        let row = version[0]
        if knownAt != nil { return try load(connection, knownAt: knownAt) }
        return try current(connection, count: try row.decode(Int64.self, at: 0), last: try row.decode(Int64.self, at: 1))
    }

    /// The data as it is when the reference streams hold `count` events, the last at `last`.
    static func current(_ connection: PostgresConnection, count: Int64, last: Int64) throws -> ReferenceData {
        if let cached = cache.entry(connection.databaseIdentity, count: count, last: last) { return cached }
        return try load(connection, knownAt: nil)
    }

    /// Every event of the reference streams up to `end`, in log order.
    static func events(_ connection: PostgresConnection, upTo end: Int64 = Int64.max) throws -> [RecordedEvent] {
        let result = try connection.query(
            """
            SELECT \(fragment: EventLog.columns) FROM dossier.events
             WHERE (stream = 'policy' OR stream LIKE 'jurisdiction/%') AND position <= \(end)
             ORDER BY position
            """)
        return try result.rows.map { try EventLog.decodeEvent($0) }
    }

    /// The books of the reference streams' `events` (in log order; corrections and rescissions
    /// among them applied by the books).
    static func build(_ events: [RecordedEvent]) -> ReferenceData {
        // Amendments applied once, for every book (the books find none left to apply).
        let standing = JurisdictionRecord.inForce(events)
        var population = PopulationBook()
        population.add(events: standing.filter { $0.stream.kind == "jurisdiction" })
        var data = ReferenceData(policy: PolicyBook(events: standing.filter { $0.stream == .policy }), population: population)
        // Each place decision read straight into the book's change list: an array of whole
        // decisions beside the events took 60 MB more at 53,553 places.
        data.places = PlaceBook(changes: standing.compactMap { event in
            guard event.type == DecisionKind.place.rawValue, let stored = try? StoredDecision(event: event),
                case .place(let change) = stored.decision.body
            else { return nil }
            return (stored.eventID, stored.decision.effective, change)
        })
        return data
    }

    /// The data as last read, per database (read again only when the reference streams changed).
    static let cache = VersionedCache<ReferenceData>()

    /// Reads the reference streams (and caches them when `knownAt` is nil).
    static func load(_ connection: PostgresConnection, knownAt: Timestamp?) throws -> ReferenceData {
        var events = try Self.events(connection)
        let count = events.count
        let last = events.last?.position ?? 0
        if let knownAt { events = events.filter { $0.knownFrom <= knownAt } }
        let data = build(events)
        if knownAt == nil {
            cache.store(data, for: connection.databaseIdentity, count: Int64(count), last: last)
        }
        return data
    }
}

/// Something read from the reference streams, per database, kept while they are unchanged:
/// their count of events and last position (`ReferenceData.versionQuery`) tell, in one cheap
/// query.
final class VersionedCache<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (count: Int64, last: Int64, value: Value)] = [:]

    /// True when something is kept for `database` (current or not).
    func holds(_ database: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return entries[database] != nil
    }

    /// The value kept for `database` when the reference streams still have `count` events, the
    /// last at `last`.
    func entry(_ database: String, count: Int64, last: Int64) -> Value? {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = entries[database], entry.count == count, entry.last == last else { return nil }
        return entry.value
    }

    func store(_ value: Value, for database: String, count: Int64, last: Int64) {
        lock.lock()
        entries[database] = (count, last, value)
        lock.unlock()
    }
}

extension PostgresConnection {
    /// Rolls back an open transaction, ignoring failures (the error being handled matters more).
    func rollbackQuietly() {
        if transactionState != .idle { _ = try? executeScript("ROLLBACK") }
    }
}

extension PostgresDate {
    init?(_ date: CalendarDate?) {
        guard let date else { return nil }
        self.init(date)
    }
}
