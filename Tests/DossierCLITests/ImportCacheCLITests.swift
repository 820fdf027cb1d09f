import DossierDomain
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// The import keeps only a bounded number of streams' books in memory (issue 16): a worker it
/// evicted is read again from the transaction when it comes back. The outcome must not depend
/// on the size of that cache.
@Suite("Import with a bounded cache of streams")
struct ImportCacheCLITests {
    /// A line of JSON for a decision made of `fields`.
    static func line(_ fields: [String: JSONValue]) -> String {
        JSONValue.object(JSONObject(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })).canonicalText
    }

    static func placed(_ kind: String, _ worker: String, _ effective: String, _ reference: String, community: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [
            "decision": .string(kind), "worker": .string(worker), "effective": .string(effective),
            "authority": .string("西湖区社会工作部"), "reference": .string(reference), "community": .string(community),
            "street": .string("北山街道"), "district": .string("西湖区"), "city": .string("杭州"),
        ]
        if kind == "hire" {
            for (key, value) in [
                ("name", "周敏"), ("post", "staff"), ("role", "staff"), ("education", "bachelor"),
            ] { fields[key] = .string(value) }
            fields["level"] = .integer(8)
        }
        return fields
    }

    @Test("an import with a cache of 3 streams gives the same log, placements, refusals and warnings as an unbounded one")
    func tinyCacheSameOutcome() throws {
        let sample = try CommandRunner.sample(seed: 17, workers: 60, from: 2011, to: 2016)
        let sampleLines = try String(contentsOfFile: sample, encoding: .utf8).split(separator: "\n").map(String.init)
        // 杭州/西湖区 may have 2 workers (1,112 residents at 18 per 10,000). Q1 and Q2 are hired
        // first, then the whole sample goes by (Q1 and Q2 are evicted from a small cache), then Q1
        // moves within the district (it does not count against itself: accepted) and Q3's hire
        // breaches the quota (refused).
        var head = [
            Self.line([
                "decision": .string("population"), "jurisdiction": .string("杭州/西湖区"), "effective": .string("2017-01-01"), "authority": .string("西湖区统计局"),
                "reference": .string("POP-XH-2017"), "year": .integer(2017), "urbanPopulation": .integer(1112),
            ]),
            Self.line(Self.placed("hire", "Q1", "2017-02-01", "Q-1", community: "曙光居民区")),
            Self.line(Self.placed("hire", "Q2", "2017-02-01", "Q-2", community: "曙光居民区")),
        ]
        head.append(
            Self.line([
                "decision": .string("training"), "worker": .string("Q1"), "effective": .string("2017-03-01"), "authority": .string("西湖区社会工作部"),
                "reference": .string("Q-3"), "kind": .string("initial"), "hours": .integer(24),
            ]))
        let hire = try #require(sampleLines.first { $0.contains(#""decision":"hire""#) })
        var conflicting = try #require(try JSONParser.parse(hire).objectValue)
        guard case .integer(let level) = conflicting["level"] else { Issue.record("a hire has a level"); return }
        conflicting["level"] = .integer(level % 9 + 1)
        let tail = [
            Self.line(Self.placed("transfer", "Q1", "2017-06-01", "Q-4", community: "西溪居民区")),
            Self.line(Self.placed("hire", "Q3", "2017-07-01", "Q-5", community: "西溪居民区")),
            hire,  // already recorded: a duplicate
            JSONValue.object(conflicting).canonicalText,  // the same reference, other content: refused
            Self.line([
                "decision": .string("training"), "worker": .string("Q9"), "effective": .string("2017-03-01"), "authority": .string("西湖区社会工作部"),
                "reference": .string("Q-6"), "kind": .string("initial"), "hours": .integer(24),
            ]),  // no hire: refused
        ]
        let file = CommandRunner.file((head + sampleLines + tail).joined(separator: "\n") + "\n")

        let content: PostgresQuery = """
            SELECT md5(string_agg(stream || version || event_type || reference || (payload - 'personal')::text || effective, ','
                       ORDER BY position)), count(*) FROM dossier.events
            """
        let placements: PostgresQuery = """
            SELECT md5(string_agg(worker || span || city || district || street || community || from_date || coalesce(until_date::text, ''), ','
                       ORDER BY worker, span)), count(*) FROM dossier.placements
            """
        var outcomes: [[String]] = []
        for cached in ["1000000", "3"] {
            let database = try TestDatabase.create()
            var dossier = CommandRunner(database: database)
            dossier.environment["DOSSIER_IMPORT_CACHED_STREAMS"] = cached
            let rejects = FileManager.default.temporaryDirectory.appending(path: "rejects-\(UUID().uuidString).jsonl").path
            let imported = try dossier.run(["import", file, "--skip-invalid", "--rejects", rejects, "--chunk-lines", "40"])
            #expect(imported.status == 0, "\(imported.stderr)")
            let connection = try PostgresConnection(connectionString: database.connectionString)
            let log = try connection.query(content)[0]
            let spans = try connection.query(placements)[0]
            // The conflicting line's message names the recorded event's id, new in each database.
            let rejected = try String(contentsOfFile: rejects, encoding: .utf8)
                .replacingOccurrences(of: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", with: "ID", options: .regularExpression)
            outcomes.append([
                imported.stdout.replacingOccurrences(of: rejects, with: "REJECTS"), imported.stderr, rejected, try log.decode(String.self, at: 0), String(try log.decode(Int64.self, at: 1)),
                try spans.decode(String.self, at: 0), String(try spans.decode(Int64.self, at: 1)),
            ])
            let moved = try connection.query("SELECT count(*) FROM dossier.events WHERE stream = 'worker/Q1' AND event_type = 'transfer'").scalar(Int64.self)
            #expect(moved == 1, "Q1's move within a full district is not counted against itself (cache \(cached)): \(rejected)")
            #expect(rejected.contains("Q-5") && rejected.contains("quota"), "Q3's hire breaches the quota (cache \(cached)): \(rejected)")
            #expect(rejected.split(separator: "\n").count == 3, "\(rejected)")
            #expect(imported.stdout.contains("1 already recorded"), "\(imported.stdout)")
        }
        #expect(Int(outcomes[0][4])! > 700, "the sample should be a real district")
        #expect(outcomes[0] == outcomes[1])
    }
}
