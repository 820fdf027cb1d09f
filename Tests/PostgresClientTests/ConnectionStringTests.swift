import DossierTestSupport
import Foundation
@testable import PostgresClient
import Testing

/// The one redactor every message about a connection string goes through, and the check that
/// refuses a string before any connection is tried (issue 14: connection strings never leak).
@Suite("Connection strings")
struct ConnectionStringTests {
    /// Each input, its redacted form, and the secret that must not survive.
    static let redactions: [(input: String, redacted: String, secret: String?)] = [
        // URIs, with the password in the userinfo.
        ("postgresql://u:Secret-1@db.example/dossier", "postgresql://u:***@db.example/dossier", "Secret-1"),
        ("postgres://u:Secret-1@db.example:5432/dossier?sslmode=require", "postgres://u:***@db.example:5432/dossier?sslmode=require", "Secret-1"),
        ("postgresql://u@db.example/dossier", "postgresql://u@db.example/dossier", nil),
        ("postgresql://db.example/dossier", "postgresql://db.example/dossier", nil),
        ("postgresql://", "postgresql://", nil),
        // Percent-encoded, and raw characters libpq would stop at.
        ("postgresql://u:p%40ss%2Fw0rd@h/db", "postgresql://u:***@h/db", "p%40ss%2Fw0rd"),
        ("postgresql://u:pa/ss-Secret@h/db", "postgresql://u:***@h/db", "pa/ss-Secret"),
        ("postgresql://u:pa?ss-Secret@h/db", "postgresql://u:***@h/db", "pa?ss-Secret"),
        ("postgresql://u:a=b-Secret@h/db", "postgresql://u:***@h/db", "a=b-Secret"),
        ("postgresql://u:p@ss-Secret@h/db", "postgresql://u:***@h/db", "ss-Secret"),
        // IPv6 hosts, and several hosts.
        ("postgresql://u:Secret-2@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db", "Secret-2"),
        ("postgresql://[2001:db8::1]:5432/db", "postgresql://[2001:db8::1]:5432/db", nil),
        ("postgresql://u:Secret-3@h1:5432,[::1]:5433,h3/db?target_session_attrs=read-write",
         "postgresql://u:***@h1:5432,[::1]:5433,h3/db?target_session_attrs=read-write", "Secret-3"),
        // URIs libpq cannot parse.
        ("postgresql://u:Leak-Me-1@[/x", "postgresql://u:***@[/x", "Leak-Me-1"),
        ("postgresql://u:Leak-Me-1@[]/x", "postgresql://u:***@[]/x", "Leak-Me-1"),
        ("postgresql://u:p%zz-Secret@h/db", "postgresql://u:***@h/db", "p%zz-Secret"),
        // Query parameters, keys percent-encoded too.
        ("postgresql://h/db?user=u&password=Secret-4", "postgresql://h/db?user=u&password=***", "Secret-4"),
        ("postgresql://h/db?pass%77ord=Secret-4&sslmode=disable", "postgresql://h/db?pass%77ord=***&sslmode=disable", "Secret-4"),
        ("postgresql://h/db?sslpassword=Secret-5", "postgresql://h/db?sslpassword=***", "Secret-5"),
        ("postgresql://u:Secret-6@h/db?password=Secret-7", "postgresql://u:***@h/db?password=***", "Secret-7"),
        // Misspelt and unknown schemes: redacted all the same.
        ("postgress://u:Leak-Me-2@localhost/db", "postgress://u:***@localhost/db", "Leak-Me-2"),
        ("http://u:Secret-8@h/db", "http://u:***@h/db", "Secret-8"),
        ("PostgreSQL://u:Secret-8@h/db", "PostgreSQL://u:***@h/db", "Secret-8"),
        ("postgresql:/u:Secret-8@h/db", "postgresql:/u:***@h/db", "Secret-8"),
        // key=value.
        ("host=/tmp dbname=dossier user=x", "host=/tmp dbname=dossier user=x", nil),
        ("host=/nonexistent password=Leak-Me-3 user=x", "host=/nonexistent password=*** user=x", "Leak-Me-3"),
        ("password='a b Secret-9' host=h", "password=*** host=h", "Secret-9"),
        ("password = 'it\\'s Secret-10' user=u", "password = *** user=u", "Secret-10"),
        ("PASSWORD=Secret-11", "PASSWORD=***", "Secret-11"),
        ("sslpassword=Secret-12 sslkey=/k", "sslpassword=*** sslkey=/k", "Secret-12"),
        ("password=Secret\\ 13 host=h", "password=*** host=h", "Secret\\ 13"),
        // Malformed key=value: an unquoted password with a space, an unterminated quote.
        ("password=a Secret-14 host=h", "password=*** *** host=h", "Secret-14"),
        ("host=h password='Secret-15 user=u", "host=h password=***", "Secret-15"),
        // A URI as the value of a keyword, and a bare mangled URI.
        ("dbname='postgresql://u:Secret-16@h/db' user=u", "dbname='postgresql://u:***@h/db' user=u", "Secret-16"),
        ("u:Secret-17@h/db", "u:***@h/db", "Secret-17"),
        ("", "", nil),
    ]

    @Test("every form is redacted, the secret gone and the rest as written")
    func redaction() {
        for (input, expected, secret) in Self.redactions {
            let redacted = ConnectionString.redacted(input)
            #expect(redacted == expected, "\(input)")
            if let secret { #expect(!redacted.contains(secret), "\(input) → \(redacted)") }
        }
    }

    @Test("what libpq says about a string it cannot parse comes back with no secret")
    func malformed() {
        let cases: [(input: String, secret: String, says: String)] = [
            ("postgresql://u:Leak-Me-1@[/x", "Leak-Me-1", "IPv6 host address"),
            ("postgresql://u:Leak-Me-1@[]/x", "Leak-Me-1", "may not be empty"),
            ("postgresql://u:p%zzLeak@h/db", "Leak", "invalid percent-encoded token"),
            ("postgresql://u:p%00Leak@h/db", "Leak", "%00"),
            ("password=a Leak-Me-4 host=h", "Leak-Me-4", "missing \"=\""),
            ("host=h password='Leak-Me-5", "Leak-Me-5", "unterminated quoted string"),
            ("host=h pasword=Leak-Me-6", "Leak-Me-6", "invalid connection option \"pasword\""),
            ("postgresql://h/db?passwrd=Leak-Me-7", "Leak-Me-7", "invalid URI query parameter: \"passwrd\""),
            ("postgresql://u:pa/Leak-Me-8@h/db", "Leak-Me-8", "port"),
            ("postgresql://u:Leak-Me-9/x@h/db", "Leak-Me-9", "port"),
        ]
        for (input, secret, says) in cases {
            let error = #expect(throws: ConnectionString.Malformed.self, "\(input)") { try ConnectionString.validate(input) }
            guard let reason = error?.reason else { continue }
            #expect(!reason.contains(secret), "\(input) → \(reason)")
            #expect(reason.contains(says), "\(input) → \(reason)")
        }
    }

    @Test("an unknown or misspelt scheme and a bare word are refused; valid strings pass")
    func schemes() throws {
        for (input, says) in [
            ("postgress://u:Leak-Me-2@localhost/db", "unknown scheme \"postgress:\""),
            ("http://u:pw@h/db", "unknown scheme \"http:\""),
            ("PostgreSQL://u:pw@h/db", "lowercase"),
            ("postgresql:/h/db", "two slashes"),
            ("dossier", "neither key=value pairs"),
            ("  postgresql://h/db", "neither key=value pairs"),
        ] {
            let error = #expect(throws: ConnectionString.Malformed.self, "\(input)") { try ConnectionString.validate(input) }
            #expect(error?.reason.contains(says) == true, "\(input) → \(error?.reason ?? "")")
            #expect(error?.reason.contains("Leak-Me-2") != true)
        }
        for valid in [
            "", "host=/tmp dbname=dossier", "host=h port=5432 dbname=d user=u password='a b'",
            "postgresql://", "postgresql://u:p%40ss@[::1]:5432,h2:5433/db?sslmode=disable&password=x",
            "postgres://h/db", "host=h1,h2 port=5432,5433", "host=h port=,5433",
            try TestDatabase.adminConnectionString() + " dbname=other",
        ] {
            #expect(throws: Never.self, "\(valid)") { try ConnectionString.validate(valid) }
        }
    }

    @Test("scrub hides a password libpq echoes, as written or decoded")
    func scrub() {
        #expect(
            ConnectionString.scrub("FATAL: database \"p@ss-word\" does not exist", of: "postgresql://u:p%40ss-word@h/db")
                == "FATAL: database \"***\" does not exist")
        #expect(
            ConnectionString.scrub("could not parse postgresql://u:Secret-1@h/db here", of: "postgresql://u:Secret-1@h/db")
                == "could not parse postgresql://u:***@h/db here")
        #expect(ConnectionString.scrub("no password here", of: "host=h password=ab") == "no password here")
    }

    @Test("PostgresConnection refuses a malformed string before connecting, and its error holds no secret")
    func connectionRefusesMalformed() {
        for input in ["postgresql://u:Leak-Me-1@[/x", "postgress://u:Leak-Me-2@localhost/db", "host=h password='Leak-Me-5"] {
            let error = #expect(throws: PostgresError.self) { try PostgresConnection(connectionString: input) }
            #expect(error?.kind == .connectionFailed)
            #expect(error?.description.contains("malformed connection string") == true, "\(error?.description ?? "")")
            #expect(error.map { !"\($0)\($0.debugDescription)".contains("Leak-Me") } == true, "\(error?.debugDescription ?? "")")
        }
        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection(connectionString: "host=/nonexistent password=Leak-Me-3 user=x connect_timeout=2")
        }
        #expect(error.map { !"\($0)\($0.debugDescription)".contains("Leak-Me-3") } == true)
        #expect(error?.description.contains("/nonexistent") == true, "\(error?.description ?? "")")
    }
}
