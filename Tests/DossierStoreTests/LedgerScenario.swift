import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// A fresh ledger on a fresh database, with short ways to record decisions in tests.
struct Scenario {
    let configuration: DatabaseConfiguration
    let ledger: Ledger
    var counter = 0

    init() throws {
        configuration = try TestDatabase.create()
        ledger = Ledger(configuration)
    }

    /// A decision from fields; `reference` defaults to a fresh one.
    mutating func decision(_ kind: String, _ worker: String = "W1", _ effective: String, _ fields: [String: JSONValue] = [:]) -> Decision {
        counter += 1
        var object = JSONObject([
            ("decision", .string(kind)), (kind == "population" || kind == "policy" ? "jurisdiction" : "worker", .string(worker)),
            ("effective", .string(effective)), ("authority", .string("黄浦区社会工作部")), ("reference", .string("R-\(counter)")),
        ])
        if kind == "policy" { object["jurisdiction"] = .string(worker) }
        for (key, value) in fields { object[key] = value }
        do {
            return try DecisionCodec.decode(.object(object))
        } catch {
            Issue.record("test decision does not decode: \(error)")
            fatalError()
        }
    }

    static func hireFields(level: Int = 8, post: String = "staff", role: String = "staff", district: String = "黄浦区", community: String = "桥二居民区") -> [String: JSONValue] {
        [
            "name": .string("张伟"), "community": .string(community), "street": .string("五里桥街道"), "district": .string(district),
            "city": .string("上海"), "post": .string(post), "role": .string(role), "level": .integer(Int64(level)),
            "education": .string("bachelor"),
        ]
    }

    @discardableResult
    mutating func record(_ kind: String, _ worker: String = "W1", _ effective: String, _ fields: [String: JSONValue] = [:], override: String? = nil, approval: String? = nil) async throws -> Ledger.Recorded {
        var decision = decision(kind, worker, effective, fields)
        decision.override = override
        decision.overrideApproval = override == nil ? approval : approval ?? "区委批〔2026〕\(counter)号"
        return try await ledger.record(decision)
    }

    @discardableResult
    mutating func hire(_ worker: String = "W1", _ effective: String = "2010-03-01", level: Int = 8, post: String = "staff", role: String = "staff", district: String = "黄浦区", override: String? = nil) async throws -> Ledger.Recorded {
        try await record("hire", worker, effective, Self.hireFields(level: level, post: post, role: role, district: district), override: override)
    }

    mutating func assess(_ worker: String = "W1", _ year: Int, _ grade: String) async throws -> Ledger.Recorded {
        try await record("assessment", worker, "\(year + 1)-01-15", ["year": .integer(Int64(year)), "grade": .string(grade)])
    }

    /// Expects a refusal naming `rule`; checks that nothing was written.
    /// With `override`, an `overrideApproval` goes with it (`approval`, or a made-up one).
    mutating func refuse(_ rule: Rule, _ kind: String, _ worker: String = "W1", _ effective: String, _ fields: [String: JSONValue] = [:], override: String? = nil, approval: String? = nil, message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try eventCount()
        var decision = decision(kind, worker, effective, fields)
        decision.override = override
        decision.overrideApproval = override == nil ? approval : approval ?? "区委批〔2026〕\(counter)号"
        do {
            _ = try await ledger.record(decision)
            Issue.record("expected a refusal under \(rule.rawValue), but it was recorded", sourceLocation: sourceLocation)
        } catch LedgerError.refused(_, let violations) {
            #expect(violations.contains { $0.rule == rule }, "got \(violations)", sourceLocation: sourceLocation)
            if let message {
                #expect(violations.contains { $0.message.contains(message) }, "got \(violations)", sourceLocation: sourceLocation)
            }
        }
        #expect(try eventCount() == before, "a refused decision must write nothing", sourceLocation: sourceLocation)
    }

    func eventCount() throws -> Int64 {
        try PostgresConnection(connectionString: configuration.connectionString)
            .query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? -1
    }

    func show(_ worker: String = "W1", asOf: String? = nil, knownAt: Timestamp? = nil) async throws -> WorkerReport {
        try await ledger.show(worker: worker, asOf: asOf.flatMap(CalendarDate.init), knownAt: knownAt)
    }
}

extension UUID {
    var json: JSONValue { .string(uuidString.lowercased()) }
}
