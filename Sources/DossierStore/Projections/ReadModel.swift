import DossierDomain
import Foundation
import PostgresClient

/// Questions answered from the projections: rosters, eligibility lists, quotas, exceptions and
/// the history of one attribute. Each first brings the projections up to date (unless another
/// runner is at it, or the connection may only read).
public final class ReadModel: Sendable {
    public let session: PostgresSession

    private let lag = NSLock()
    nonisolated(unsafe) private var eventsBehind: Int64 = 0

    public init(_ configuration: DatabaseConfiguration, role: AccessRole = .person) {
        session = PostgresSession.open(configuration, role: role, label: "dossier.read")
    }

    /// Answers on a session someone else owns (the server's pool, which sets the person per request).
    public init(session: PostgresSession) {
        self.session = session
    }

    /// How many events of the log the last answer did not reflect (0 when caught up): a login
    /// that may not keep the projections (auditors, reviewers, hr) reads them as they are.
    public var behind: Int64 {
        lag.lock()
        defer { lag.unlock() }
        return eventsBehind
    }

    /// Catches up when this login may keep the projections; returns the position the answers reflect.
    func refresh(_ connection: PostgresConnection) throws -> Int64 {
        let position = try Projector.catchUpIfAllowed(connection, wait: false)
        let last = try EventLog.lastPosition(connection)
        lag.lock()
        eventsBehind = max(0, last - position)
        lag.unlock()
        return position
    }

    /// A worker on a roster.
    public struct RosterEntry: Sendable, Equatable {
        public var worker: String
        public var status: String
        public var post: String?
        public var role: String?
        public var level: Int?
        public var community: String
        public var street: String
        public var district: String
        public var city: String
        /// The reason, for eligibility lists.
        public var reason: String?
        /// The worker's name, when the reader's role may read it (see `names(of:purpose:)`).
        public var name: String?

        public var json: JSONObject {
            var object = JSONObject([
                ("worker", .string(worker)), ("status", .string(status)), ("post", post.map(JSONValue.string) ?? .null),
                ("role", role.map(JSONValue.string) ?? .null), ("level", level.map { .integer(Int64($0)) } ?? .null),
                ("community", .string(community)), ("street", .string(street)), ("district", .string(district)),
                ("city", .string(city)),
            ])
            if let reason { object["reason"] = .string(reason) }
            if let name { object["name"] = .string(name) }
            return object
        }

        /// The CSV columns of `roster` and `eligible` (CLI and API alike; README, "CSV and other
        /// formats"): `name` is empty for a role that may not read names, `reason` for a roster.
        public static let csvHeader = ["worker", "name", "status", "post", "role", "level", "community", "street", "district", "city", "reason"]

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            [.text(worker), CSV.Field(name), .text(status), CSV.Field(post), CSV.Field(role), CSV.Field(level),
             .text(community), .text(street), .text(district), .text(city), CSV.Field(reason)]
        }
    }

    /// Filters by place; nil matches everything.
    public struct Place: Sendable {
        public var city: String?
        public var district: String?
        public var street: String?
        public var community: String?

        public init(city: String? = nil, district: String? = nil, street: String? = nil, community: String? = nil) {
            self.city = city
            self.district = district
            self.street = street
            self.community = community
        }
    }

    /// Whether a place was renamed or merged by `date` (as known at `knownAt`): rosters then read
    /// the places in force through `dossier_read.workers_as_of`.
    static func placesMoved(_ connection: PostgresConnection, date: CalendarDate, knownAt: Timestamp?) throws -> Bool {
        try connection.query(
            "SELECT dossier.places_moved(\(PostgresDate(date)), \(knownAt.map(PostgresTimestamp.init))::timestamptz)"
        ).scalar(Bool.self) ?? false
    }

    /// Rows in a place (every column nullable: no filter).
    static func inPlace(_ place: Place) -> PostgresQuery {
        """
        (\(place.city)::text IS NULL OR city = \(place.city))
        AND (\(place.district)::text IS NULL OR district = \(place.district))
        AND (\(place.street)::text IS NULL OR street = \(place.street))
        AND (\(place.community)::text IS NULL OR community = \(place.community))
        """
    }

    /// Timeline rows in force on `date` as known at `knownAt` (now when nil), in a place.
    static func inForce(date: CalendarDate, knownAt: Timestamp?, place: Place) -> PostgresQuery {
        let known = knownAt.map(PostgresTimestamp.init)
        return """
            valid_from <= \(PostgresDate(date)) AND (valid_until IS NULL OR valid_until > \(PostgresDate(date)))
            AND ((\(known)::timestamptz IS NULL AND recorded_until IS NULL)
                 OR (recorded_from <= \(known) AND (recorded_until IS NULL OR recorded_until > \(known))))
            AND (\(place.city)::text IS NULL OR city = \(place.city))
            AND (\(place.district)::text IS NULL OR district = \(place.district))
            AND (\(place.street)::text IS NULL OR street = \(place.street))
            AND (\(place.community)::text IS NULL OR community = \(place.community))
            """
    }

    static func entries(_ result: QueryResult) throws -> [RosterEntry] {
        try result.rows.map { row in
            RosterEntry(
                worker: try row.decode(String.self, at: 0), status: try row.decode(String.self, at: 1),
                post: try row.decodeIfPresent(String.self, at: 2), role: try row.decodeIfPresent(String.self, at: 3),
                level: try row.decodeIfPresent(Int32.self, at: 4).map(Int.init),
                community: try row.decodeIfPresent(String.self, at: 5) ?? "", street: try row.decodeIfPresent(String.self, at: 6) ?? "",
                district: try row.decodeIfPresent(String.self, at: 7) ?? "", city: try row.decodeIfPresent(String.self, at: 8) ?? "",
                reason: row.result.columnCount > 9 ? try row.decodeIfPresent(String.self, at: 9) : nil)
        }
    }

    /// The current names of `workers`, for a role that may read them (hr in scope, reviewers,
    /// admins), through the database's logged function: each read lands in the access log. Workers
    /// whose data is withheld or erased are absent; auditors get an empty answer.
    public func names(of workers: [String], purpose: String) async throws -> [String: String] {
        guard !workers.isEmpty else { return [:] }
        return try await session.run { connection in
            guard let actor = try? Ledger.currentActor(connection), actor.role != "auditor" else { return [:] }
            let names = try People.names(connection, streams: workers.map { "worker/" + $0 }, purpose: purpose)
            return Dictionary(uniqueKeysWithValues: names.map { (StreamID(rawValue: $0.key).subject, $0.value) })
        }
    }

    /// The workers on the roster on `date`, as known at `knownAt`.
    public func roster(place: Place, asOf date: CalendarDate, knownAt: Timestamp? = nil) async throws -> [RosterEntry] {
        try await session.run { connection in
            _ = try self.refresh(connection)
            if try Self.placesMoved(connection, date: date, knownAt: knownAt) {
                // A rename or merge is in force: the places as they are on the date.
                return try Self.entries(
                    connection.query(
                        """
                        SELECT worker, status, post, role, level, community, street, district, city
                          FROM dossier_read.workers_as_of(\(PostgresDate(date)), \(knownAt.map(PostgresTimestamp.init))::timestamptz)
                         WHERE status IN ('active', 'seconded') AND \(fragment: Self.inPlace(place))
                         ORDER BY city, district, street, community, worker
                        """))
            }
            return try Self.entries(
                connection.query(
                    """
                    SELECT worker, status, post, role, level, community, street, district, city
                      FROM dossier_read.worker_timeline
                     WHERE \(fragment: Self.inForce(date: date, knownAt: knownAt, place: place))
                       AND status IN ('active', 'seconded')
                     ORDER BY city, district, street, community, worker
                    """))
        }
    }

    /// Level-up candidates, public-institution candidates or exit-review cases on `date`.
    public func eligible(_ kind: EligibilityKind, place: Place = Place(), asOf date: CalendarDate, knownAt: Timestamp? = nil)
        async throws -> [RosterEntry]
    {
        let column: PostgresQuery =
            switch kind {
            case .levelUp: "level_up"
            case .publicInstitution: "public_institution"
            case .exitReview: "exit_review"
            }
        return try await session.run { connection in
            _ = try self.refresh(connection)
            return try Self.entries(
                connection.query(
                    """
                    SELECT worker, status, post, role, level, community, street, district, city, \(fragment: column)_reason
                      FROM dossier_read.worker_timeline
                     WHERE \(fragment: Self.inForce(date: date, knownAt: knownAt, place: place)) AND \(fragment: column)
                     ORDER BY city, district, street, community, worker
                    """))
        }
    }

    /// Headcount against quota for one jurisdiction on a date.
    public struct QuotaLine: Sendable, Equatable {
        /// Where a jurisdiction stands against its approved total.
        public enum Standing: String, Sendable {
            /// Fewer workers than the quota: a shortfall of `gap`.
            case below
            /// Exactly the quota.
            case at
            /// More workers than the quota allows: total control sets a ceiling.
            case over
            /// No population figure in force: the quota is unknown, not met.
            case noFigure = "no-figure"
        }

        public var jurisdiction: String
        public var headcount: Int
        public var year: Int?
        public var urbanPopulation: Int?
        public var perTenThousand: Int?
        public var quota: Int?
        /// Workers per 10,000 urban residents, to two decimals (as PostgreSQL rounds it); JSON and
        /// CSV give it as a number (`2.0`, `13.33`).
        public var ratio: String?
        public var standing: Standing

        /// The quota minus the headcount: positive is a shortfall, negative is over the ceiling.
        public var gap: Int? { quota.map { $0 - headcount } }

        public var json: JSONObject {
            func number(_ value: Int?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
            return JSONObject([
                ("jurisdiction", .string(jurisdiction)), ("headcount", .integer(Int64(headcount))), ("quota", number(quota)),
                ("gap", number(gap)), ("year", number(year)), ("urbanPopulation", number(urbanPopulation)),
                ("perTenThousand", number(perTenThousand)), ("compliant", quota.map { .bool(headcount <= $0) } ?? .null),
                ("ratioPerTenThousand", ratio.flatMap(Double.init).map(JSONValue.fraction) ?? .null),
                ("standing", .string(standing.rawValue)),
            ])
        }

        /// The CSV columns of `quota`: the population figure and the ratio per 10,000 in force
        /// that give the quota; `gap` is quota minus headcount (negative: over quota). The
        /// columns from `ratioPerTenThousand` on came later (issue 13) and stay at the end.
        public static let csvHeader = [
            "jurisdiction", "headcount", "urbanPopulation", "year", "perTenThousand", "quota", "gap", "compliant",
            "ratioPerTenThousand", "standing",
        ]

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            [.text(jurisdiction), CSV.Field(headcount), CSV.Field(urbanPopulation), CSV.Field(year), CSV.Field(perTenThousand),
             CSV.Field(quota), CSV.Field(gap), CSV.Field(quota.map { headcount <= $0 }),
             CSV.Field(ratio.flatMap(Double.init).map { "\($0)" }), .text(standing.rawValue)]
        }
    }

    /// Quota compliance per district and city on `date` as known at `knownAt` (now when nil),
    /// one jurisdiction when given: `dossier_read.quota_as_of`, the function psql users call.
    public func quota(jurisdiction: String? = nil, asOf date: CalendarDate, knownAt: Timestamp? = nil) async throws -> [QuotaLine] {
        _ = try Self.jurisdictionParts(jurisdiction)
        return try await session.run { connection in
            _ = try self.refresh(connection)
            try Self.requireKnown(jurisdiction, connection)
            let result = try connection.query(
                """
                SELECT jurisdiction, headcount, year, urban_population, per_ten_thousand, quota, ratio::text, standing
                  FROM dossier_read.quota_as_of(\(PostgresDate(date)), \(knownAt.map(PostgresTimestamp.init))::timestamptz)
                 WHERE \(jurisdiction)::text IS NULL OR jurisdiction = \(jurisdiction)
                 ORDER BY jurisdiction
                """)
            return try result.rows.map { row in
                QuotaLine(
                    jurisdiction: try row.decode(String.self, at: 0), headcount: Int(try row.decode(Int32.self, at: 1)),
                    year: try row.decodeIfPresent(Int32.self, at: 2).map(Int.init),
                    urbanPopulation: try row.decodeIfPresent(Int32.self, at: 3).map(Int.init),
                    perTenThousand: try row.decodeIfPresent(Int32.self, at: 4).map(Int.init),
                    quota: try row.decodeIfPresent(Int32.self, at: 5).map(Int.init),
                    ratio: try row.decodeIfPresent(String.self, at: 6),
                    standing: QuotaLine.Standing(rawValue: try row.decode(String.self, at: 7)) ?? .noFigure)
            }
        }
    }

    /// One year's year-end headcount of a district, city or street (`report headcount`).
    public struct HeadcountLine: Sendable, Equatable {
        public var year: Int
        public var jurisdiction: String
        public var headcount: Int
        public var urbanPopulation: Int?
        public var ratio: String?
        public var quota: Int?
        public var gap: Int?
        public var standing: String?

        public var json: JSONObject {
            func number(_ value: Int?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
            return JSONObject([
                ("year", .integer(Int64(year))), ("jurisdiction", .string(jurisdiction)), ("headcount", .integer(Int64(headcount))),
                ("urbanPopulation", number(urbanPopulation)),
                ("ratioPerTenThousand", ratio.flatMap(Double.init).map(JSONValue.fraction) ?? .null),
                ("quota", number(quota)), ("gap", number(gap)), ("standing", standing.map(JSONValue.string) ?? .null),
            ])
        }

        /// The CSV columns of `report headcount` (README, "CSV and other formats").
        public static let csvHeader = ["year", "jurisdiction", "headcount", "urbanPopulation", "ratioPerTenThousand", "quota", "gap", "standing"]

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            [CSV.Field(year), .text(jurisdiction), CSV.Field(headcount), CSV.Field(urbanPopulation),
             CSV.Field(ratio.flatMap(Double.init).map { "\($0)" }),
             CSV.Field(quota), CSV.Field(gap), CSV.Field(standing)]
        }
    }

    /// How `report headcount` groups workers.
    public enum HeadcountGrouping: String, Sendable, CaseIterable {
        case district, street
    }

    /// Year-end (31 December) headcounts from `from` to `to`, by district (with cities, their
    /// ratio, quota and gap) or by street, as known at `knownAt`: `dossier_read.headcount_by_year`.
    public func headcount(from: Int, to: Int, by grouping: HeadcountGrouping, knownAt: Timestamp? = nil, jurisdiction: String? = nil)
        async throws -> [HeadcountLine]
    {
        _ = try Self.jurisdictionParts(jurisdiction)
        return try await session.run { connection in
            _ = try self.refresh(connection)
            try Self.requireKnown(jurisdiction, connection)
            let result = try connection.query(
                """
                SELECT year, jurisdiction, headcount, urban_population, ratio::text, quota, gap, standing
                  FROM dossier_read.headcount_by_year(\(Int32(from)), \(Int32(to)), \(grouping.rawValue),
                                                       \(knownAt.map(PostgresTimestamp.init))::timestamptz)
                 WHERE \(jurisdiction)::text IS NULL OR jurisdiction = \(jurisdiction)
                    OR starts_with(jurisdiction, \(jurisdiction) || '/')
                """)
            return try result.rows.map { row in
                HeadcountLine(
                    year: Int(try row.decode(Int32.self, at: 0)), jurisdiction: try row.decode(String.self, at: 1),
                    headcount: Int(try row.decode(Int32.self, at: 2)),
                    urbanPopulation: try row.decodeIfPresent(Int32.self, at: 3).map(Int.init),
                    ratio: try row.decodeIfPresent(String.self, at: 4), quota: try row.decodeIfPresent(Int32.self, at: 5).map(Int.init),
                    gap: try row.decodeIfPresent(Int32.self, at: 6).map(Int.init), standing: try row.decodeIfPresent(String.self, at: 7))
            }
        }
    }

    /// A decision recorded despite a policy rule, and what later decisions did to it.
    public struct Exception: Sendable {
        public var json: JSONObject
        public var line: String

        /// The CSV columns of `exceptions`, the keys of `json` in order (`rules` and
        /// `correctedBy` separated by spaces). The columns from `jurisdiction` on came later
        /// (issue 13), `overrideApproval` later still (issue 12: who approved the override;
        /// absent for exceptions recorded before it was asked for), and stay at the end.
        public static let csvHeader = [
            "position", "eventId", "stream", "decision", "effective", "recordedAt", "recordedBy", "authority", "reference",
            "override", "rules", "jurisdiction", "rescindedBy", "rescindedEffective", "correctedBy", "overturnedBy",
            "overrideApproval",
        ]

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            Self.csvHeader.map { key in
                switch json[key] {
                case .integer(let number)?: .integer(number)
                case .string(let text)?: .text(text)
                case .array(let list)?: CSV.Field(list: list.compactMap(\.stringValue))
                default: .absent
                }
            }
        }
    }

    /// Which policy exceptions to list: effective dates from `since` to `until` (both
    /// inclusive), and the jurisdiction the decision was made in (`City` or `City/District`).
    public struct ExceptionFilter: Sendable {
        public var since: CalendarDate?
        public var until: CalendarDate?
        public var jurisdiction: String?

        public init(since: CalendarDate? = nil, until: CalendarDate? = nil, jurisdiction: String? = nil) {
            self.since = since
            self.until = until
            self.jurisdiction = jurisdiction
        }
    }

    /// A jurisdiction no worker was ever placed in and no population figure names.
    public struct UnknownJurisdiction: Error, CustomStringConvertible {
        public var jurisdiction: String
        public var description: String {
            "no city or district \"\(jurisdiction)\" in the ledger (write City or City/District, e.g. 上海/黄浦区)"
        }
    }

    /// The city and district of `City` or `City/District` (nil, nil for none); anything else is unknown.
    static func jurisdictionParts(_ jurisdiction: String?) throws -> (city: String?, district: String?) {
        guard let jurisdiction else { return (nil, nil) }
        let parts = jurisdiction.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let district = parts.count > 1 ? parts[1] : nil
        if parts[0].isEmpty || district?.isEmpty == true || district?.contains("/") == true {
            throw UnknownJurisdiction(jurisdiction: jurisdiction)
        }
        return (parts[0], district)
    }

    /// Refuses a jurisdiction no worker was ever placed in and no population figure names.
    static func requireKnown(_ jurisdiction: String?, _ connection: PostgresConnection) throws {
        guard let jurisdiction else { return }
        let (city, district) = try jurisdictionParts(jurisdiction)
        let known = try connection.query(
            """
            SELECT EXISTS (SELECT FROM dossier_read.worker_timeline
                            WHERE city = \(city) AND (\(district)::text IS NULL OR district = \(district)))
                OR EXISTS (SELECT FROM dossier_read.quotas
                            WHERE jurisdiction = \(jurisdiction) OR (\(district)::text IS NULL AND left(jurisdiction, length(\(city)::text) + 1) = \(city)::text || '/'))
            """
        ).rows.first.map { try $0.decode(Bool.self, at: 0) } ?? false
        guard known else { throw UnknownJurisdiction(jurisdiction: jurisdiction) }
    }

    /// The policy exceptions `filter` selects, in log order, each with its later fate: the
    /// rescission, corrections and overturning appeal ruling the audit trail (the trace's
    /// statuses, `Replay.trace`) holds for it. The jurisdiction of a worker's decision is where
    /// the worker was placed on its effective date (the last placement up to then), as known
    /// now, or as known when it was recorded when what is known now places the worker nowhere
    /// then (a rescinded hire); a population figure's is its own; others have none.
    public func exceptions(_ filter: ExceptionFilter = ExceptionFilter()) async throws -> [Exception] {
        let (city, district) = try Self.jurisdictionParts(filter.jurisdiction)
        return try await session.run { connection in
            _ = try self.refresh(connection)
            try Self.requireKnown(filter.jurisdiction, connection)
            let since = filter.since.map(PostgresDate.init)
            let until = filter.until.map(PostgresDate.init)
            return try connection.query(
                """
                SELECT a.position, a.event_id, a.stream, a.decision, a.effective, a.recorded_at, a.recorded_by, a.authority,
                       a.reference, a.override, array_to_string(a.exceptions, ','),
                       coalesce(w.city, j.city), coalesce(w.district, j.district),
                       a.rescinded_by, r.effective, array_to_string(a.corrected_by::text[], ','), a.overturned_by,
                       (SELECT e.payload ->> 'overrideApproval' FROM dossier.events e WHERE e.event_id = a.event_id)
                  FROM dossier_read.audit_trail a
                  LEFT JOIN dossier_read.audit_trail r ON r.stream = a.stream AND r.event_id = a.rescinded_by
                  LEFT JOIN LATERAL (
                      SELECT t.city, t.district FROM dossier_read.worker_timeline t
                       WHERE a.stream LIKE 'worker/%' AND t.worker = substr(a.stream, 8) AND t.valid_from <= a.effective
                         AND t.city IS NOT NULL
                         AND (t.recorded_until IS NULL OR (t.recorded_from <= a.recorded_at AND t.recorded_until > a.recorded_at))
                       ORDER BY t.recorded_until IS NULL DESC, t.valid_from DESC LIMIT 1) w ON true
                  LEFT JOIN LATERAL (
                      SELECT split_part(substr(a.stream, 14), '/', 1) AS city, nullif(split_part(substr(a.stream, 14), '/', 2), '') AS district
                       WHERE a.stream LIKE 'jurisdiction/%') j ON true
                 WHERE a.override IS NOT NULL
                   AND (\(since)::date IS NULL OR a.effective >= \(since))
                   AND (\(until)::date IS NULL OR a.effective <= \(until))
                   AND (\(city)::text IS NULL OR (coalesce(w.city, j.city) = \(city)
                        AND (\(district)::text IS NULL OR coalesce(w.district, j.district) = \(district))))
                 ORDER BY a.position
                """
            ).rows.map { row in
                func list(_ column: Int) throws -> [JSONValue] {
                    (try row.decodeIfPresent(String.self, at: column) ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
                }
                func id(_ column: Int) throws -> JSONValue {
                    try row.decodeIfPresent(UUID.self, at: column).map { .string($0.uuidString.lowercased()) } ?? .null
                }
                let rules = try list(10)
                let placeCity = try row.decodeIfPresent(String.self, at: 11)
                let placeDistrict = try row.decodeIfPresent(String.self, at: 12)
                let place = placeCity.map { city in placeDistrict.map { city + "/" + $0 } ?? city }
                let object = JSONObject([
                    ("position", .integer(try row.decode(Int64.self, at: 0))),
                    ("eventId", .string(try row.decode(UUID.self, at: 1).uuidString.lowercased())),
                    ("stream", .string(try row.decode(String.self, at: 2))), ("decision", .string(try row.decode(String.self, at: 3))),
                    ("effective", .string(try row.decode(PostgresDate.self, at: 4).description)),
                    ("recordedAt", .string(try row.decode(PostgresTimestamp.self, at: 5).description)),
                    ("recordedBy", .string(try row.decode(String.self, at: 6))), ("authority", .string(try row.decode(String.self, at: 7))),
                    ("reference", .string(try row.decode(String.self, at: 8))), ("override", .string(try row.decode(String.self, at: 9))),
                    ("rules", .array(rules)),
                    ("jurisdiction", place.map(JSONValue.string) ?? .null),
                    ("rescindedBy", try id(13)),
                    ("rescindedEffective", try row.decodeIfPresent(PostgresDate.self, at: 14).map { .string($0.description) } ?? .null),
                    ("correctedBy", .array(try list(15))),
                    ("overturnedBy", try id(16)),
                    ("overrideApproval", try row.decodeIfPresent(String.self, at: 17).map(JSONValue.string) ?? .null),
                ])
                var marks: [String] = []
                if let by = object["rescindedBy"]?.stringValue {
                    marks.append("[rescinded " + (object["rescindedEffective"]?.stringValue.map { $0 + " " } ?? "") + "by \(by)]")
                }
                if case .array(let ids)? = object["correctedBy"], !ids.isEmpty {
                    marks.append("[corrected by \(ids.compactMap(\.stringValue).joined(separator: ", "))]")
                }
                if let by = object["overturnedBy"]?.stringValue { marks.append("[overturned by \(by)]") }
                let ruleList = rules.compactMap(\.stringValue).joined(separator: ", ")
                let line = "#\(object["position"]!.canonicalText)  \(object["effective"]!.stringValue!)  \(object["decision"]!.stringValue!)  "
                    + "\(object["stream"]!.stringValue!)" + (place.map { "  in \($0)" } ?? "")
                    + "  ref \(object["reference"]!.stringValue!)  by \(object["authority"]!.stringValue!)"
                    + (marks.isEmpty ? "" : "  " + marks.joined(separator: " ")) + "\n"
                    + "    rules: \(ruleList.isEmpty ? "none broken" : ruleList)\n"
                    + "    override: \(object["override"]!.stringValue!)\n"
                    + "    approved by: \(object["overrideApproval"]?.stringValue ?? "(missing: recorded before approvals were asked for)")"
                    + "  recorded by \(object["recordedBy"]!.stringValue!) at \(object["recordedAt"]!.stringValue!)"
                return Exception(json: object, line: line)
            }
        }
    }

    /// One attribute's history.
    public enum Field: String, CaseIterable, Sendable {
        case level, post, community, status
    }

    /// How one attribute changed over effective time, and over recorded time.
    public struct History: Sendable {
        /// As known now: (from, until, value), merged where the value stays.
        public var effective: [(from: CalendarDate, until: CalendarDate?, value: String)]
        /// For each moment the ledger learned something that changed this attribute: the
        /// attribute's effective history as known from then.
        public var learned: [(at: Timestamp, periods: [(from: CalendarDate, until: CalendarDate?, value: String)])]

        /// The documented JSON object (`history --json`, the API).
        public func json(worker: String, field: Field) -> JSONObject {
            func periods(_ list: [(from: CalendarDate, until: CalendarDate?, value: String)]) -> JSONValue {
                .array(list.map { .object(JSONObject([("from", .string($0.from.description)), ("until", $0.until.map { .string($0.description) } ?? .null), ("value", .string($0.value))])) })
            }
            return JSONObject([
                ("worker", .string(worker)), ("field", .string(field.rawValue)), ("effective", periods(effective)),
                ("learned", .array(learned.map { .object(JSONObject([("recordedAt", .string($0.at.description)), ("periods", periods($0.periods))])) })),
            ])
        }

        /// The CSV columns of `history`: one record per period per view, `effective` (as known
        /// now; `recordedAt` empty) first, then `learned` (the periods as known from `recordedAt`).
        public static let csvHeader = ["worker", "field", "view", "recordedAt", "from", "until", "value"]

        /// The CSV records, in the order of `csvHeader`.
        public func csvRows(worker: String, field: Field) -> [[CSV.Field]] {
            func row(_ view: String, _ at: Timestamp?, _ period: (from: CalendarDate, until: CalendarDate?, value: String)) -> [CSV.Field] {
                [.text(worker), .text(field.rawValue), .text(view), CSV.Field(at?.description), .text(period.from.description),
                 CSV.Field(period.until?.description), .text(period.value)]
            }
            return effective.map { row("effective", nil, $0) } + learned.flatMap { version in version.periods.map { row("learned", version.at, $0) } }
        }
    }

    public func history(worker: String, field: Field) async throws -> History {
        try await session.run { connection in
            _ = try self.refresh(connection)
            let rows = try connection.query(
                """
                SELECT \(fragment: ProjectionName.timeline.columnList) FROM dossier_read.worker_timeline
                 WHERE worker = \(worker) ORDER BY recorded_from, valid_from
                """
            ).rows.map(TimelineRow.init(row:))
            guard !rows.isEmpty else { throw LedgerError.noRecord("worker \(worker)") }
            func value(_ snapshot: WorkerSnapshot) -> String {
                switch field {
                case .level: snapshot.level.map(String.init) ?? "—"
                case .post: snapshot.post.map { "\($0.rawValue) (\(snapshot.role?.rawValue ?? "—"))" } ?? "—"
                case .community:
                    snapshot.placement.map { "\($0.community), \($0.street), \($0.district), \($0.city)" } ?? "—"
                case .status: snapshot.status.rawValue + (snapshot.exit.map { " (\($0.rawValue))" } ?? "")
                }
            }
            func merged(_ periods: [TimelineRow]) -> [(from: CalendarDate, until: CalendarDate?, value: String)] {
                var out: [(from: CalendarDate, until: CalendarDate?, value: String)] = []
                for row in periods.sorted(by: { $0.period.from < $1.period.from }) {
                    let text = value(row.period.snapshot)
                    if let last = out.last, last.value == text, last.until == row.period.from {
                        out[out.count - 1].until = row.period.until
                    } else {
                        out.append((row.period.from, row.period.until, text))
                    }
                }
                return out
            }
            let now = merged(rows.filter { $0.recordedUntil == nil })
            var learned: [(at: Timestamp, periods: [(from: CalendarDate, until: CalendarDate?, value: String)])] = []
            for time in Set(rows.map(\.recordedFrom)).sorted() {
                let known = rows.filter { $0.recordedFrom <= time && ($0.recordedUntil.map { $0 > time } ?? true) }
                let periods = merged(known)
                if learned.last.map({ $0.periods.map(\.value) == periods.map(\.value) && $0.periods.map(\.from) == periods.map(\.from) }) != true {
                    learned.append((time, periods))
                }
            }
            return History(effective: now, learned: learned)
        }
    }
}
