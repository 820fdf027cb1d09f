import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

/// The people commands and every role at work through the CLI: a clerk, an auditor, a reviewer.
@Suite("People through the dossier command", .serialized)
struct PeopleCLITests {
    func runner(_ database: DatabaseConfiguration, as user: String, password: String = TestDatabase.password) throws -> CommandRunner {
        CommandRunner(
            database: DatabaseConfiguration(
                connectionString: try TestDatabase.connectionString(database: TestDatabase.name(of: database), user: user)
                    + " password='\(password)'"))
    }

    @Test("an admin adds a clerk, an auditor and a reviewer; each works within their rights")
    func rolesAtWork() throws {
        let database = try TestDatabase.create()
        let admin = CommandRunner(database: database)
        let clerk = TestDatabase.uniqueName("clerk"), auditor = TestDatabase.uniqueName("auditor")
        let reviewer = TestDatabase.uniqueName("reviewer")
        let added = try admin.run(["user", "add", clerk, "--role", "hr", "--jurisdiction", "上海/黄浦区", "--password-stdin"], input: TestDatabase.password + "\n")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(!added.stdout.contains("password"))
        let generated = try admin.run(["user", "add", auditor, "--role", "auditor"])
        #expect(generated.status == 0)
        #expect(generated.stdout.contains("password (shown once): "))
        #expect(try admin.run(["user", "add", reviewer, "--role", "reviewer", "--password-stdin"], input: TestDatabase.password).status == 0)
        // The password is stored as a SCRAM-SHA-256 verifier.
        let verifier = try PostgresConnection(connectionString: database.connectionString)
            .query("SELECT rolpassword FROM pg_authid WHERE rolname = \(clerk)").scalar(String.self)
        #expect(verifier?.hasPrefix("SCRAM-SHA-256$") == true)
        // Bad input: a clear message, nothing created.
        for bad in [["user", "add", "Bad Name", "--role", "hr", "--jurisdiction", "上海"], ["user", "add", "x1", "--role", "boss"],
                    ["user", "add", TestDatabase.uniqueName("hr"), "--role", "hr"],
                    ["user", "add", TestDatabase.uniqueName("hr"), "--role", "hr", "--jurisdiction", "上海/黄浦区/五里桥"],
                    ["user", "grant", "nobody", "--jurisdiction", "上海"]] {
            let result = try admin.run(bad, input: "")
            #expect(result.status == 1, "\(bad): \(result.stderr)")
            #expect(!result.stderr.isEmpty && !result.stderr.contains("SQLSTATE"), "\(bad): \(result.stderr)")
        }
        let list = try admin.run(["user", "list", "--json"])
        let people = array(try JSONParser.parse(list.stdout))
        let entry = people.first { $0["name"] == .string(clerk) }
        #expect(entry?["scopes"] == JSONValue.array([.string("上海/黄浦区")]))

        // The clerk records in 黄浦区 and is refused in 徐汇区.
        let asClerk = try runner(database, as: clerk)
        let recorded = try asClerk.run(["record", "-"], input: hire)
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let outside = hire.replacingOccurrences(of: "黄浦区", with: "徐汇区").replacingOccurrences(of: "W-001", with: "W-002")
        let refused = try asClerk.run(["record", "-"], input: outside)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("outside the scopes of \(clerk)") && refused.stderr.contains("上海/徐汇区"), "\(refused.stderr)")
        #expect(try asClerk.run(["user", "add", TestDatabase.uniqueName("mole"), "--role", "admin"]).status == 1)
        // A clerk reads the names of its own district's workers.
        #expect(try asClerk.run(["show", "W-001"]).stdout.contains("朱虹"))

        // The auditor reads everything but names, and cannot record.
        // The generated password is the one that works.
        let auditorPassword = generated.stdout.components(separatedBy: "password (shown once): ").last!
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let asAuditor = try runner(database, as: auditor, password: auditorPassword)
        let shown = try asAuditor.run(["show", "W-001"])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("withheld") && !shown.stdout.contains("朱虹"))
        for command in [["trace", "W-001"], ["roster", "--district", "黄浦区"], ["quota"], ["exceptions"], ["eligible", "--for", "level-up"], ["verify"]] {
            let result = try asAuditor.run(command)
            #expect(result.status == 0, "\(command): \(result.stderr)")
            #expect(!result.stdout.contains("朱虹"), "\(command)")
        }
        let auditorRecord = try asAuditor.run(["record", "-"], input: assessment)
        #expect(auditorRecord.status == 1)
        #expect(try asAuditor.run(["find", "朱"]).status == 1)

        // The reviewer reads names; every read lands in the access log the auditor can read.
        let asReviewer = try runner(database, as: reviewer)
        let traced = try asReviewer.run(["trace", "W-001"])
        #expect(traced.stdout.contains("朱虹"))
        let found = try asReviewer.run(["find", "朱"])
        #expect(found.stdout.contains("W-001\t朱虹"))
        // Rosters show names to those who may read them, and can be searched by name.
        #expect(try admin.run(["project"]).status == 0)
        #expect(try asReviewer.run(["roster", "--district", "黄浦区"]).stdout.contains("朱虹"))
        #expect(try asClerk.run(["roster", "--name", "朱"]).stdout.contains("W-001"))
        #expect(try asClerk.run(["roster", "--name", "王"]).stdout.contains("(none)"))
        let auditorRoster = try asAuditor.run(["roster", "--district", "黄浦区"])
        #expect(auditorRoster.stdout.contains("W-001") && !auditorRoster.stdout.contains("朱虹"))
        #expect(try asAuditor.run(["roster", "--name", "朱"]).status == 1)
        let log = try asAuditor.run(["access-log", "--worker", "W-001", "--json"])
        #expect(log.status == 0)
        let readers = array(try JSONParser.parse(log.stdout)).compactMap { $0["reader"]?.stringValue }
        #expect(readers.contains(reviewer) && readers.contains(clerk) && !readers.contains(auditor))

        // Erasure: by the admin; again changes nothing; an unknown worker is a clear error.
        let erased = try admin.run(["erase", "W-001", "--authority", "黄浦区人民法院", "--reference", "ER-2026-1"])
        #expect(erased.status == 0, "\(erased.stderr)")
        #expect(try admin.run(["erase", "W-001", "--authority", "黄浦区人民法院", "--reference", "ER-2026-1"]).stdout.contains("nothing changed"))
        let unknown = try admin.run(["erase", "W-999", "--authority", "a", "--reference", "ER-2"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no record of worker W-999"))
        #expect(try asReviewer.run(["show", "W-001"]).stdout.contains("(personal data erased on "))
        #expect(try admin.run(["verify"]).status == 0)

        // Revoked and disabled: refused from then on.
        #expect(try admin.run(["user", "revoke", clerk, "--jurisdiction", "上海/黄浦区"]).status == 0)
        #expect(try asClerk.run(["record", "-"], input: assessment).status == 1)
        #expect(try admin.run(["user", "disable", reviewer]).status == 0)
        #expect(try asReviewer.run(["trace", "W-001"]).status != 0)
        let who = try asAuditor.run(["user", "who", "--jurisdiction", "上海/黄浦区", "--json"])
        #expect(who.status == 0)
        #expect(!who.stdout.contains(clerk))
    }
}

/// The objects of a JSON array (empty for anything else).
func array(_ value: JSONValue) -> [JSONObject] {
    guard case .array(let items) = value else { return [] }
    return items.compactMap(\.objectValue)
}
