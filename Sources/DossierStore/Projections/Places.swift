import DossierDomain
import Foundation
import PostgresClient

extension ReadModel {
    /// The gazetteer as known at `knownAt` (now when nil), folded from the place decisions.
    public func gazetteer(knownAt: Timestamp? = nil) async throws -> PlaceBook {
        try await session.run { connection in try ReferenceData.read(connection, knownAt: knownAt).places }
    }

    /// A district named without its city, or more than one.
    public struct AmbiguousJurisdiction: Error, CustomStringConvertible {
        public var name: String
        public var candidates: [String]
        public var description: String {
            "\(name) is a district of more than one city (\(candidates.joined(separator: ", "))): write City/District"
        }
    }

    /// A bare name that is neither a city nor a district the ledger knows.
    public struct UnknownDistrict: Error, CustomStringConvertible {
        public var name: String
        public var suggestions: [String]
        public var description: String {
            "no city or district \"\(name)\" in the ledger"
                + (suggestions.isEmpty ? " (write City or City/District, e.g. 上海/黄浦区)" : "; did you mean \(suggestions.joined(separator: " or "))?")
        }
    }

    /// `City/District` for a bare district name that names one district (in the gazetteer, or
    /// where workers were placed or population figures recorded); a city, a `City/District` or
    /// nil unchanged. An ambiguous district is refused naming the candidates; an unknown name is
    /// left to the caller's check unless the gazetteer knows a close name (refused with it).
    public func resolveJurisdiction(_ jurisdiction: String?) async throws -> String? {
        guard let jurisdiction, !jurisdiction.contains("/") else { return jurisdiction }
        let book = try await gazetteer()
        return try await session.run { connection in
            _ = try self.refresh(connection)
            let isCity = try connection.query(
                """
                SELECT EXISTS (SELECT FROM dossier_read.worker_timeline WHERE city = \(jurisdiction))
                       OR EXISTS (SELECT FROM dossier_read.quotas WHERE split_part(jurisdiction, '/', 1) = \(jurisdiction))
                """).scalar(Bool.self) ?? false
            if isCity || book.hasGazetteer(city: jurisdiction) { return jurisdiction }
            let known = try connection.query(
                """
                SELECT DISTINCT city || '/' || district FROM dossier_read.worker_timeline WHERE district = \(jurisdiction)
                UNION
                SELECT jurisdiction FROM dossier_read.quotas WHERE split_part(jurisdiction, '/', 2) = \(jurisdiction)
                """).rows.map { try $0.decode(String.self, at: 0) }
            let candidates = Set(known + book.districts(named: jurisdiction, on: Ledger.today())).sorted()
            if candidates.count == 1 { return candidates[0] }
            if candidates.count > 1 { throw AmbiguousJurisdiction(name: jurisdiction, candidates: candidates) }
            let today = Ledger.today()
            let names = book.places.filter { ($0.kind == .district || $0.kind == .city) && $0.exists(on: today) }.map { $0.name(on: today) }
            let similar = PlaceBook.closest(to: jurisdiction, among: names)
            if !similar.isEmpty { throw UnknownDistrict(name: jurisdiction, suggestions: similar) }
            return jurisdiction
        }
    }
}
