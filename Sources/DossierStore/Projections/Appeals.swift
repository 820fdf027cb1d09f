import DossierDomain
import Foundation
import PostgresClient

extension ReadModel {
    /// One appeal of the caseload (`dossier appeals`, `GET /api/appeals`).
    public struct Appeal: Sendable, Equatable {
        public var position: Int64
        public var appeal: UUID
        public var worker: String
        /// Where the worker was placed on the day the appeal was lodged (`City/District`).
        public var jurisdiction: String?
        public var lodged: CalendarDate
        public var against: UUID
        /// The kind of the event appealed against (a decision kind, or `selection`).
        public var againstDecision: String?
        public var againstStream: String?
        /// open, upheld or overturned (the outcome for the decision appealed against).
        public var status: String
        public var ruling: UUID?
        public var ruledOn: CalendarDate?
        /// Days from lodging to the ruling, or to the as-of date while open.
        public var daysOpen: Int
        public var reference: String
        public var authority: String

        /// The documented JSON object, keys in the order of `csvHeader`.
        public var json: JSONObject {
            func id(_ value: UUID?) -> JSONValue { value.map { .string($0.uuidString.lowercased()) } ?? .null }
            func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
            return JSONObject([
                ("position", .integer(position)), ("appeal", id(appeal)), ("worker", .string(worker)),
                ("jurisdiction", text(jurisdiction)), ("lodged", .string(lodged.description)), ("against", id(against)),
                ("againstDecision", text(againstDecision)), ("againstStream", text(againstStream)), ("status", .string(status)),
                ("ruling", id(ruling)), ("ruledOn", text(ruledOn?.description)), ("daysOpen", .integer(Int64(daysOpen))),
                ("reference", .string(reference)), ("authority", .string(authority)),
            ])
        }

        /// The CSV columns of `appeals` (README, "CSV and other formats"): the keys of `json`.
        public static let csvHeader = [
            "position", "appeal", "worker", "jurisdiction", "lodged", "against", "againstDecision", "againstStream", "status",
            "ruling", "ruledOn", "daysOpen", "reference", "authority",
        ]

        /// One CSV record, in the order of `csvHeader`.
        public var csvRow: [CSV.Field] {
            [.integer(position), .text(appeal.uuidString.lowercased()), .text(worker), CSV.Field(jurisdiction),
             .text(lodged.description), .text(against.uuidString.lowercased()), CSV.Field(againstDecision), CSV.Field(againstStream),
             .text(status), CSV.Field(ruling?.uuidString.lowercased()), CSV.Field(ruledOn?.description), CSV.Field(daysOpen),
             .text(reference), .text(authority)]
        }

        /// The line of the table.
        public var line: String {
            let ruled = ruling.map { " by ruling \($0.uuidString.lowercased()) of \(ruledOn!.description)" } ?? ""
            return "#\(position)  \(lodged)  \(worker)" + (jurisdiction.map { "  in \($0)" } ?? "")
                + "  \(status.uppercased())\(ruled)  \(daysOpen) day\(daysOpen == 1 ? "" : "s")\n"
                + "    appeal \(appeal.uuidString.lowercased())  ref \(reference), \(authority)\n"
                + "    against \(againstDecision ?? "?") \(against.uuidString.lowercased())" + (againstStream.map { " (\($0))" } ?? "")
        }
    }

    /// Which appeals to list: those lodged by `asOf` (today when nil), only open ones, in one
    /// jurisdiction (`City` or `City/District`: where the worker was placed when lodging).
    public struct AppealFilter: Sendable {
        public var openOnly: Bool
        public var jurisdiction: String?
        public var asOf: CalendarDate?

        public init(openOnly: Bool = false, jurisdiction: String? = nil, asOf: CalendarDate? = nil) {
            self.openOnly = openOnly
            self.jurisdiction = jurisdiction
            self.asOf = asOf
        }
    }

    /// The appeals caseload as it stands on `filter.asOf`, as known now, in the order lodged.
    ///
    /// An appeal withdrawn (rescinded) is left out. Its status is `open` until a ruling on it
    /// (not rescinded) takes effect on or before the as-of date, then the ruling's outcome for
    /// the decision appealed against; `daysOpen` counts from the day lodged to the ruling's
    /// effective date, or to the as-of date while open. Read from the log itself.
    public func appeals(_ filter: AppealFilter = AppealFilter()) async throws -> [Appeal] {
        let parts = filter.jurisdiction.map { $0.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init) }
        let city = parts?.first
        let district = (parts?.count ?? 0) > 1 ? parts?[1] : nil
        if let jurisdiction = filter.jurisdiction, city?.isEmpty != false || district?.isEmpty == true || district?.contains("/") == true {
            throw UnknownJurisdiction(jurisdiction: jurisdiction)
        }
        let asOf = PostgresDate(filter.asOf ?? Ledger.today())
        return try await session.run { connection in
            try connection.query(
                """
                WITH a AS (
                    SELECT a.position, a.event_id, a.stream, a.effective, a.reference, a.authority, a.payload ->> 'against' AS against
                      FROM dossier.events a
                     WHERE a.event_type = 'appeal' AND a.effective <= \(asOf)
                       AND NOT EXISTS (SELECT FROM dossier.events w
                                        WHERE w.stream = a.stream AND w.event_type = 'rescission'
                                          AND w.payload ->> 'rescinds' = a.event_id::text))
                SELECT a.position, a.event_id, substr(a.stream, 8), p.city, p.district, a.effective, a.against::uuid,
                       t.event_type, t.stream, r.event_id, r.effective, r.payload ->> 'outcome',
                       greatest(coalesce(r.effective, \(asOf)) - a.effective, 0)::integer, a.reference, a.authority
                  FROM a
                  LEFT JOIN dossier.events t ON t.event_id = a.against::uuid
                  LEFT JOIN LATERAL (
                      SELECT r.event_id, r.effective, r.payload FROM dossier.events r
                       WHERE r.stream = a.stream AND r.event_type = 'appeal-ruling' AND r.payload ->> 'appealed' = a.event_id::text
                         AND r.effective <= \(asOf)
                         AND NOT EXISTS (SELECT FROM dossier.events q
                                          WHERE q.stream = a.stream AND q.event_type = 'rescission'
                                            AND q.payload ->> 'rescinds' = r.event_id::text)
                       ORDER BY r.position LIMIT 1) r ON true
                  LEFT JOIN LATERAL dossier.placement_on(a.stream, a.effective, NULL, true) p ON true
                 WHERE (\(city)::text IS NULL OR (p.city = \(city) AND (\(district)::text IS NULL OR p.district = \(district))))
                   AND (NOT \(filter.openOnly) OR r.event_id IS NULL)
                 ORDER BY a.effective, a.position
                """
            ).rows.map { row in
                func date(_ column: Int) throws -> CalendarDate? {
                    try row.decodeIfPresent(PostgresDate.self, at: column).flatMap { CalendarDate(year: $0.year, month: $0.month, day: $0.day) }
                }
                let placeCity = try row.decodeIfPresent(String.self, at: 3)
                let placeDistrict = try row.decodeIfPresent(String.self, at: 4)
                return Appeal(
                    position: try row.decode(Int64.self, at: 0), appeal: try row.decode(UUID.self, at: 1),
                    worker: try row.decode(String.self, at: 2),
                    jurisdiction: placeCity.map { city in placeDistrict.map { city + "/" + $0 } ?? city },
                    lodged: try date(5)!, against: try row.decode(UUID.self, at: 6),
                    againstDecision: try row.decodeIfPresent(String.self, at: 7), againstStream: try row.decodeIfPresent(String.self, at: 8),
                    status: try row.decodeIfPresent(String.self, at: 11) ?? "open", ruling: try row.decodeIfPresent(UUID.self, at: 9),
                    ruledOn: try date(10), daysOpen: Int(try row.decode(Int32.self, at: 12)),
                    reference: try row.decode(String.self, at: 13), authority: try row.decode(String.self, at: 14))
            }
        }
    }
}
