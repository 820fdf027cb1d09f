import DossierDomain
import Foundation
import PostgresClient

/// People, their roles and scopes, personal-data access and erasure: thin calls to the owner's
/// functions in PostgreSQL (schema/0006), which decide who may do what and record every change in
/// the `access` stream. Nothing here grants or checks a right on its own.
public enum People {
    /// A Dossier role a person holds.
    public enum Role: String, Sendable, CaseIterable {
        case hr, reviewer, auditor, admin
    }

    /// A registered person.
    public struct Person: Sendable, Equatable {
        public var name: String
        public var role: String
        public var scopes: [String]
        public var addedAt: Timestamp
        public var addedBy: String
        public var disabledAt: Timestamp?

        public var json: JSONObject {
            JSONObject([
                ("name", .string(name)), ("role", .string(role)), ("scopes", .array(scopes.map(JSONValue.string))),
                ("addedAt", .string(addedAt.description)), ("addedBy", .string(addedBy)),
                ("disabled", .bool(disabledAt != nil)),
                ("disabledAt", disabledAt.map { .string($0.description) } ?? .null),
            ])
        }
    }

    /// Registers the installing login as the first admin when it is a superuser not yet registered
    /// (`dossier init` on a ledger another superuser installed, or after an upgrade).
    public static func registerInstaller(_ connection: PostgresConnection) throws {
        try call(connection) {
            try connection.query(
                """
                SELECT dossier.add_person(session_user, 'admin', '{}', NULL, 'dossier init', 'installer:' || session_user)
                  FROM pg_roles r
                 WHERE r.rolname = session_user AND r.rolsuper AND current_setting('role') = 'none'
                   AND NOT EXISTS (SELECT FROM dossier.people p WHERE p.name = session_user)
                """)
        }
    }

    /// Registers an existing login role as an admin unless it is registered already (`dossier init`
    /// on the embedded default: the operating-system user). Needs a superuser session.
    public static func registerAdmin(_ connection: PostgresConnection, login: String) throws {
        try call(connection) {
            try connection.query(
                """
                SELECT dossier.add_person(\(login), 'admin', '{}', NULL, 'dossier init', 'installer:' || \(login))
                 WHERE NOT EXISTS (SELECT FROM dossier.people p WHERE p.name = \(login))
                """)
        }
    }

    /// A reference for an access event when the administrator gives none.
    static func reference(_ what: String, _ name: String) -> String {
        "\(what):\(name):\(Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000)).description)"
    }

    /// Creates a login role for a person with a password (SCRAM-SHA-256), grants it the role's
    /// group and records the scopes.
    public static func add(
        _ connection: PostgresConnection, name: String, role: Role, jurisdictions: [String], password: String,
        authority: String, reference: String?
    ) throws {
        try call(connection) {
            let verifier = try connection.scramVerifier(password: password, user: name)
            try connection.query(
                """
                SELECT dossier.add_person(\(name), \(role.rawValue), \(PostgresArray(jurisdictions)), \(verifier),
                                          \(authority), \(reference ?? Self.reference("add", name)))
                """)
        }
    }

    public static func grant(_ connection: PostgresConnection, name: String, jurisdiction: String, authority: String, reference: String?) throws -> Bool {
        try call(connection) {
            try connection.query(
                """
                SELECT dossier.grant_scope(\(name), \(jurisdiction), \(authority), \(reference ?? Self.reference("grant", name))) IS NOT NULL
                """
            ).scalar(Bool.self) ?? false
        }
    }

    public static func revoke(_ connection: PostgresConnection, name: String, jurisdiction: String, authority: String, reference: String?) throws {
        try call(connection) {
            try connection.query(
                "SELECT dossier.revoke_scope(\(name), \(jurisdiction), \(authority), \(reference ?? Self.reference("revoke", name)))")
        }
    }

    public static func disable(_ connection: PostgresConnection, name: String, authority: String, reference: String?) throws -> Bool {
        try call(connection) {
            try connection.query(
                "SELECT dossier.disable_person(\(name), \(authority), \(reference ?? Self.reference("disable", name))) IS NOT NULL"
            ).scalar(Bool.self) ?? false
        }
    }

    /// Every registered person with their current scopes.
    public static func list(_ connection: PostgresConnection) throws -> [Person] {
        try call(connection) {
            try connection.query(
                """
                SELECT p.name, p.role, array_to_string(dossier.scopes_of(p.name), E'\\n'), p.added_at, p.added_by, p.disabled_at
                  FROM dossier.people p ORDER BY p.name
                """
            ).rows.map { row in
                Person(
                    name: try row.decode(String.self, at: 0), role: try row.decode(String.self, at: 1),
                    scopes: try row.decode(String.self, at: 2).split(separator: "\n").map(String.init),
                    addedAt: Timestamp(microsecondsSinceEpoch: try row.decode(PostgresTimestamp.self, at: 3).microsecondsSinceEpoch),
                    addedBy: try row.decode(String.self, at: 4),
                    disabledAt: try row.decodeIfPresent(PostgresTimestamp.self, at: 5).map {
                        Timestamp(microsecondsSinceEpoch: $0.microsecondsSinceEpoch)
                    })
            }
        }
    }

    /// Who could record for a jurisdiction at a time, and who gave them that right.
    public static func whoCouldRecord(_ connection: PostgresConnection, jurisdiction: String, at time: Timestamp) throws -> [JSONObject] {
        try call(connection) {
            try connection.query(
                """
                SELECT person, role, scope, granted_at, granted_by, revoked_at
                  FROM dossier.who_could_record(\(jurisdiction), \(PostgresTimestamp(microsecondsSinceEpoch: time.microsecondsSinceEpoch)))
                """
            ).rows.map { row in
                JSONObject([
                    ("person", .string(try row.decode(String.self, at: 0))), ("role", .string(try row.decode(String.self, at: 1))),
                    ("scope", .string(try row.decode(String.self, at: 2))),
                    ("grantedAt", .string(Timestamp(microsecondsSinceEpoch: try row.decode(PostgresTimestamp.self, at: 3).microsecondsSinceEpoch).description)),
                    ("grantedBy", .string(try row.decode(String.self, at: 4))),
                ])
            }
        }
    }

    /// What an erasure did.
    public struct Erasure: Sendable {
        public var eventID: UUID
        public var erased: Int
        public var duplicate: Bool
    }

    /// Erases a worker's personal data under a lawful request (recorded as an event).
    public static func erase(_ connection: PostgresConnection, worker: String, authority: String, reference: String) throws -> Erasure {
        try call(connection) {
            let row = try connection.query(
                "SELECT o_event_id, o_erased, o_duplicate FROM dossier.erase_personal_data(\(worker), \(authority), \(reference))")[0]
            return Erasure(
                eventID: try row.decode(UUID.self, at: 0), erased: Int(try row.decode(Int32.self, at: 1)),
                duplicate: try row.decode(Bool.self, at: 2))
        }
    }

    /// Workers whose name contains `text`, among those the caller may read. The search is logged
    /// and committed before it runs; the names found are then read like any personal data
    /// (logged and committed first, then served).
    public static func find(_ connection: PostgresConnection, name text: String) throws -> [(worker: String, name: String)] {
        try call(connection) {
            try connection.query("SELECT dossier.request_name_search(\(text))")
            let streams = try connection.query("SELECT stream FROM dossier.find_by_name(\(text))").rows.map {
                try $0.decode(String.self, at: 0)
            }
            let names = try Self.names(connection, streams: streams, purpose: "find by name")
            return names.filter { $0.value.contains(text) }.sorted { $0.key < $1.key }
                .map { (StreamID(rawValue: $0.key).subject, $0.value) }
        }
    }

    /// The current names of the given streams' subjects (by stream), read as all personal data is:
    /// the read is logged and committed first, then served; withheld and erased ones are absent.
    public static func names(_ connection: PostgresConnection, streams: [String], purpose: String) throws -> [String: String] {
        guard !streams.isEmpty else { return [:] }
        return try call(connection) {
            let list = PostgresArray(streams)
            try connection.query("SELECT dossier.request_personal_access(\(list), \(purpose))")
            var names: [String: String] = [:]
            for row in try connection.query(
                """
                SELECT p.stream, p.fields ->> 'name' FROM dossier.personal_data_of(\(list)) p
                  JOIN dossier.events e ON e.event_id = p.event_id
                 WHERE NOT p.withheld AND NOT p.erased AND p.fields ? 'name'
                 ORDER BY e.position
                """
            ).rows {
                names[try row.decode(String.self, at: 0)] = try row.decode(String.self, at: 1)
            }
            return names
        }
    }

    /// One read of personal data.
    public struct AccessEntry: Sendable {
        public var at: Timestamp
        public var reader: String
        public var login: String
        public var worker: String
        public var what: String

        public var json: JSONObject {
            JSONObject([
                ("at", .string(at.description)), ("reader", .string(reader)), ("login", .string(login)),
                ("worker", .string(worker)), ("what", .string(what)),
            ])
        }
    }

    /// The access log, newest last, filtered.
    public static func accessLog(
        _ connection: PostgresConnection, worker: String?, reader: String?, since: Timestamp?, limit: Int = 10_000
    ) throws -> [AccessEntry] {
        let sinceValue = since.map { PostgresTimestamp(microsecondsSinceEpoch: $0.microsecondsSinceEpoch) }
        return try call(connection) {
            try connection.query(
                """
                SELECT at, reader, login, worker, what FROM dossier.access_log
                 WHERE (\(worker)::text IS NULL OR worker = \(worker))
                   AND (\(reader)::text IS NULL OR reader = \(reader))
                   AND (\(sinceValue)::timestamptz IS NULL OR at >= \(sinceValue))
                 ORDER BY id DESC LIMIT \(Int64(limit))
                """
            ).rows.reversed().map { row in
                AccessEntry(
                    at: Timestamp(microsecondsSinceEpoch: try row.decode(PostgresTimestamp.self, at: 0).microsecondsSinceEpoch),
                    reader: try row.decode(String.self, at: 1), login: try row.decode(String.self, at: 2),
                    worker: try row.decode(String.self, at: 3), what: try row.decode(String.self, at: 4))
            }
        }
    }

    // MARK: Tokens and the server's gateway

    /// Issues a new API token to the person asking (the database refuses one for anyone else);
    /// returns the token, which is shown once: the ledger keeps only its SHA-256.
    public static func issueToken(_ connection: PostgresConnection, person: String, authority: String, reference: String?) throws
        -> (token: AccessToken, id: UUID)
    {
        try call(connection) {
            let token = AccessToken.generate()
            let id = try connection.query(
                """
                SELECT dossier.issue_token(\(person), \(PostgresBytea(token.hash)), \(authority),
                                           \(reference ?? Self.reference("token", person)))
                """
            ).scalar(UUID.self)
            return (token, id!)
        }
    }

    /// Ends every token of a person; returns how many were live.
    public static func revokeTokens(_ connection: PostgresConnection, person: String, authority: String, reference: String?) throws -> Int {
        try call(connection) {
            Int(try connection.query(
                "SELECT dossier.revoke_tokens(\(person), \(authority), \(reference ?? Self.reference("revoke-tokens", person)))"
            ).scalar(Int32.self) ?? 0)
        }
    }

    /// The person a live token belongs to (only a gateway login may ask).
    public static func tokenPerson(_ connection: PostgresConnection, token: AccessToken) throws -> String? {
        try call(connection) {
            try connection.query("SELECT dossier.token_person(\(PostgresBytea(token.hash)))").rows.first?.decodeIfPresent(String.self, at: 0)
        }
    }

    /// Lets a login act for people (`dossier serve`): grants it `dossier_gateway`. Needs a superuser.
    public static func grantGateway(_ connection: PostgresConnection, login: String) throws {
        try call(connection) {
            try connection.query("SELECT set_config('dossier.gateway_login', \(login), false)")
            try connection.executeScript(
                """
                DO $gw$
                BEGIN
                    IF NOT pg_has_role(current_setting('dossier.gateway_login'), 'dossier_gateway', 'MEMBER') THEN
                        EXECUTE format('GRANT dossier_gateway TO %I', current_setting('dossier.gateway_login'));
                    END IF;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END
                $gw$
                """)
            _ = try connection.query("SELECT dossier.sync_gateway()")
        }
    }

    static func call<T>(_ connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }
}
