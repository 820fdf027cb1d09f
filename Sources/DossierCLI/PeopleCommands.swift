import ArgumentParser
import DossierDomain
import DossierStore
import Foundation
import PostgresClient

extension Dossier {
    /// Manages the people who use the ledger: each is a database login with one Dossier role.
    struct User: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list, scope and disable the people who use the ledger (admins only).",
            discussion: """
                Each person is a PostgreSQL login role holding one Dossier role: hr (records decisions \
                within its jurisdictions), reviewer (reads whole records, names included), auditor (reads \
                everything but personal data) or admin (manages people, records anywhere). The database \
                enforces the role and scopes; every change is an event in the `access` stream.
                """,
            subcommands: [Add.self, List.self, Grant.self, Revoke.self, Disable.self, Who.self, Token.self])

        struct Authority: ParsableArguments {
            @Option(help: "The body on whose authority the change is made.")
            var authority = "Dossier administrator"

            @Option(help: "The document number of the change (default: generated).")
            var reference: String?

            /// The texts go into an event of the `access` stream: the rules of a decision's
            /// `authority` and `reference` apply (NFC, no format characters, limits in bytes).
            func validate() throws {
                _ = try checkedAuthority()
                _ = try checkedReference()
            }

            func checkedAuthority() throws -> String { try CLI.checkedText(authority, option: "authority") }
            func checkedReference() throws -> String? { try reference.map { try CLI.checkedText($0, option: "reference") } }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a person's login (SCRAM-SHA-256 password) with a Dossier role and scopes.",
                discussion: "Without --password-stdin a password is generated and printed once.")

            @Argument(help: "The login name: lowercase letters, digits, _ . -, starting with a letter.")
            var name: String

            @Option(help: "hr, reviewer, auditor or admin.")
            var role: String

            @Option(name: .customLong("jurisdiction"), help: "CITY or CITY/DISTRICT the person may record for (hr; repeatable).")
            var jurisdictions: [String] = []

            @Flag(help: "Read the password from the first line of standard input.")
            var passwordStdin = false

            @OptionGroup var authority: Authority
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    guard let role = People.Role(rawValue: role) else {
                        throw UserError(description: "--role must be hr, reviewer, auditor or admin, not \"\(role)\"")
                    }
                    let password: String
                    var generated = false
                    if passwordStdin {
                        let line = String(decoding: FileHandle.standardInput.readData(ofLength: 4096), as: UTF8.self)
                            .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                        guard line.count >= 12 else {
                            throw UserError(description: "the password on standard input must be at least 12 characters")
                        }
                        password = line
                    } else {
                        password = CLI.generatePassword()
                        generated = true
                    }
                    try await CLI.session(database).run { connection in
                        try People.add(
                            connection, name: name, role: role, jurisdictions: jurisdictions, password: password,
                            authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                    }
                    CLI.print("added \(name) as \(role.rawValue)" + (jurisdictions.isEmpty ? "" : " for \(jurisdictions.joined(separator: ", "))"))
                    if generated { CLI.print("password (shown once): \(password)") }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the people, their roles and scopes.")

            @OptionGroup var output: OutputFormat

            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    let people = try await CLI.session(database).run { try People.list($0) }
                    output.print(
                        table: {
                            people.map { person in
                                let state = person.disabledAt.map { " (disabled \($0))" } ?? ""
                                let scopes = person.scopes.isEmpty ? (person.role == "admin" ? "everywhere" : "—") : person.scopes.joined(separator: ", ")
                                return "\(person.name)\t\(person.role)\t\(scopes)\tadded \(person.addedAt) by \(person.addedBy)\(state)"
                            }.joined(separator: "\n")
                        },
                        json: { JSONValue.array(people.map { .object($0.json) }).canonicalText },
                        csvHeader: People.Person.csvHeader, csvRows: { people.map(\.csvRow) })
                }
            }
        }

        struct Grant: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Let a person record for one more jurisdiction.")
            @Argument var name: String
            @Option(help: "CITY or CITY/DISTRICT.") var jurisdiction: String
            @OptionGroup var authority: Authority
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    let changed = try await CLI.session(database).run {
                        try People.grant($0, name: name, jurisdiction: jurisdiction, authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                    }
                    CLI.print(changed ? "granted \(jurisdiction) to \(name)" : "\(name) already holds \(jurisdiction): nothing changed")
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Take a jurisdiction from a person (what they recorded before stays).")
            @Argument var name: String
            @Option(help: "CITY or CITY/DISTRICT.") var jurisdiction: String
            @OptionGroup var authority: Authority
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    try await CLI.session(database).run {
                        try People.revoke($0, name: name, jurisdiction: jurisdiction, authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                    }
                    CLI.print("revoked \(jurisdiction) from \(name)")
                }
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Stop a person logging in or acting in the ledger (nothing about them is deleted).")
            @Argument var name: String
            @OptionGroup var authority: Authority
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    let changed = try await CLI.session(database).run {
                        try People.disable($0, name: name, authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                    }
                    CLI.print(changed ? "disabled \(name)" : "\(name) was already disabled: nothing changed")
                }
            }
        }

        struct Token: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a new API token for yourself, or revoke a person's tokens (yourself, or anyone for an admin).",
                discussion: """
                    A script sends the token as `Authorization: Bearer TOKEN` to `dossier serve` and acts as \
                    that person, exactly as their browser session would. The token is printed once; the \
                    ledger keeps only its SHA-256. Issuing and revoking are events in the `access` stream.
                    """)
            @Argument(help: "The person the token acts for.") var name: String
            @Flag(help: "End every live token of the person instead.") var revoke = false
            @OptionGroup var authority: Authority
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    if revoke {
                        let count = try await CLI.session(database).run {
                            try People.revokeTokens($0, person: name, authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                        }
                        CLI.print("revoked \(count) token\(count == 1 ? "" : "s") of \(name)")
                        return
                    }
                    let issued = try await CLI.session(database).run {
                        try People.issueToken($0, person: name, authority: try authority.checkedAuthority(), reference: try authority.checkedReference())
                    }
                    CLI.print(issued.token.text)
                    CLI.printError("token \(issued.id.uuidString.lowercased()) for \(name): shown once, keep it secret; revoke with `dossier user token \(name) --revoke`")
                }
            }
        }

        struct Who: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Who could record for a jurisdiction at a time, and who gave them that right.")
            @Option(help: "CITY or CITY/DISTRICT.") var jurisdiction: String
            @Option(help: "A date (its end) or an ISO 8601 time; now when omitted.") var at: String?
            @OptionGroup var output: OutputFormat
            @OptionGroup var database: DatabaseOptions

            func run() async throws {
                try await CLI.run {
                    let time = try at.map { try CLI.parseTime($0, option: "--at") }
                        ?? Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
                    let rows = try await CLI.session(database).run {
                        try People.whoCouldRecord($0, jurisdiction: jurisdiction, at: time)
                    }
                    output.print(
                        table: {
                            rows.map { row in People.whoCSVHeader.map { row[$0]?.stringValue ?? "" }.joined(separator: "\t") }
                                .joined(separator: "\n")
                        },
                        json: { JSONValue.array(rows.map(JSONValue.object)).canonicalText },
                        csvHeader: People.whoCSVHeader, csvRows: { rows.map(People.whoCSVRow) })
                }
            }
        }
    }

    /// Erases a worker's personal data under a lawful request.
    struct Erase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a worker's personal data under a lawful request (admin, or hr in scope).",
            discussion: """
                Clears the names and identity data kept beside the log and records the erasure as an event \
                in the worker's stream. Every event and proof stays intact: verify passes, bundles exported \
                before still verify. Running the same erasure again changes nothing.
                """)
        @Argument var worker: String
        @Option(help: "The body that ordered the erasure.") var authority: String
        @Option(help: "The document number of the request.") var reference: String
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            _ = try CLI.checkedText(authority, option: "authority")
            _ = try CLI.checkedText(reference, option: "reference")
        }

        func run() async throws {
            try await CLI.run {
                let authority = try CLI.checkedText(authority, option: "authority")
                let reference = try CLI.checkedText(reference, option: "reference")
                let erasure = try await CLI.session(database).run {
                    try People.erase($0, worker: worker, authority: authority, reference: reference)
                }
                CLI.print(
                    erasure.duplicate
                        ? "the erasure \(reference) of \(worker) was recorded before (event \(erasure.eventID.uuidString.lowercased())): nothing changed"
                        : "erased the personal data of \(worker) (\(erasure.erased) records), event \(erasure.eventID.uuidString.lowercased())")
            }
        }
    }

    /// Lists who read whose personal data.
    struct AccessLog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "access-log", abstract: "Who read whose personal data, when and how.")
        @Option(help: "Only reads of this worker.") var worker: String?
        @Option(help: "Only reads by this person.") var reader: String?
        @Option(help: "Only reads at or after this date or time.") var since: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let time = try since.map { try CLI.parseTime($0, option: "--since") }
                let entries = try await CLI.session(database).run {
                    try People.accessLog($0, worker: worker, reader: reader, since: time)
                }
                output.print(
                    table: {
                        entries.map { entry in
                            let via = entry.login == entry.reader ? "" : " (login \(entry.login))"
                            return "\(entry.at)\t\(entry.reader)\(via)\t\(entry.worker)\t\(entry.what)"
                        }.joined(separator: "\n")
                    },
                    json: { JSONValue.array(entries.map { .object($0.json) }).canonicalText },
                    csvHeader: People.AccessEntry.csvHeader, csvRows: { entries.map(\.csvRow) })
            }
        }
    }

    /// Finds workers by name.
    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find workers by (part of) their name, among those you may read (each read is logged).")
        @Argument var name: String
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let found = try await CLI.session(database).run { try People.find($0, name: name) }
                if found.isEmpty, output.chosen == .table { CLI.printError("no worker you may read has a name containing \"\(name)\"") }
                output.print(
                    table: { found.map { "\($0.worker)\t\($0.name)" }.joined(separator: "\n") },
                    json: { JSONValue.array(found.map { .object(JSONObject([("worker", .string($0.worker)), ("name", .string($0.name))])) }).canonicalText },
                    csvHeader: People.findCSVHeader, csvRows: { found.map { [.text($0.worker), .text($0.name)] } })
            }
        }
    }
}

extension CLI {
    /// A session on the ledger as the caller's login.
    static func session(_ database: DatabaseOptions) throws -> PostgresSession {
        PostgresSession.open(try database.configuration(), role: .person, label: "dossier.people")
    }

    /// A random password of 20 letters and digits.
    static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
