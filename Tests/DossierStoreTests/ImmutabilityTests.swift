import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("The log is immutable")
struct ImmutabilityTests {
    /// A database holding two events.
    func populated() async throws -> DatabaseConfiguration {
        let configuration = try TestDatabase.create()
        let store = EventStore(configuration)
        _ = try await store.append(
            to: .worker("w1"), expected: .noStream, events: [event(), event()])
        return configuration
    }

    @Test("a superuser's UPDATE, DELETE and TRUNCATE are refused by the triggers")
    func superuserRefused() async throws {
        let configuration = try await populated()
        let admin = try adminConnection(configuration)
        for statement: PostgresQuery in [
            "UPDATE dossier.events SET payload = '{}'::jsonb",
            "DELETE FROM dossier.events WHERE position = 1",
            "TRUNCATE dossier.events CASCADE",
            "UPDATE dossier.events SET recorded_by = 'someone else' WHERE version = 2",
        ] {
            let error = #expect(throws: PostgresError.self) { try admin.query(statement) }
            #expect(error?.sqlState == .immutableLog, "\(statement)")
        }
        // A plain TRUNCATE is already stopped by the personal data's reference to the log.
        let truncate = #expect(throws: PostgresError.self) { try admin.query("TRUNCATE dossier.events") }
        #expect(truncate?.sqlState == SQLState("0A000"))
        #expect(try count(configuration) == 2)
    }

    @Test("the writer role may append and read, but not UPDATE, DELETE, TRUNCATE or INSERT directly")
    func writerLimited() async throws {
        let configuration = try await populated()
        try TestDatabase.register(configuration, user: TestDatabase.writerUser, role: "hr", jurisdictions: ["上海"])
        let writer = try connection(configuration, user: TestDatabase.writerUser)
        #expect(try writer.query("SELECT count(*) FROM dossier.events WHERE stream <> 'access'").scalar(Int64.self) == 2)
        for statement: PostgresQuery in [
            "UPDATE dossier.events SET payload = '{}'::jsonb", "DELETE FROM dossier.events", "TRUNCATE dossier.events",
        ] {
            let error = #expect(throws: PostgresError.self) { try writer.query(statement) }
            #expect(error?.sqlState == .insufficientPrivilege, "\(statement)")
        }
        let direct = #expect(throws: PostgresError.self) {
            try writer.query(
                """
                INSERT INTO dossier.events (position, stream, version, event_id, event_type, schema_version, payload,
                  effective, recorded_at, recorded_by, authority, reference)
                VALUES (999, 'worker/x', 1, gen_random_uuid(), 'training', 1, '{}', '2025-01-01', now(), 'me', 'a', 'r')
                """)
        }
        #expect(direct?.sqlState == .insufficientPrivilege)
        // Through the append function it works (for a worker in the writer's scope).
        _ = try EventLog.append(writer, to: .worker("w2"), expected: .noStream, events: [hireEvent(district: "黄浦区")])
        #expect(try count(configuration) == 3)
    }

    @Test("the reader role may only read")
    func readerLimited() async throws {
        let configuration = try await populated()
        try TestDatabase.register(configuration, user: TestDatabase.readerUser, role: "auditor")
        let reader = try connection(configuration, user: TestDatabase.readerUser)
        #expect(try reader.query("SELECT count(*) FROM dossier.events WHERE stream <> 'access'").scalar(Int64.self) == 2)
        #expect(throws: StoreError.self) {
            try EventLog.append(reader, to: .worker("w9"), expected: .any, events: [event()])
        }
        for statement: PostgresQuery in ["UPDATE dossier.events SET payload = '{}'::jsonb", "DELETE FROM dossier.events"] {
            let error = #expect(throws: PostgresError.self) { try reader.query(statement) }
            #expect(error?.sqlState == .insufficientPrivilege)
        }
        #expect(try count(configuration) == 2)
    }

    @Test("a user without a Dossier role cannot read or write the log")
    func outsiderRefused() async throws {
        let configuration = try await populated()
        // Only registered people may even connect to a ledger.
        let error = #expect(throws: PostgresError.self) { try connection(configuration, user: TestDatabase.outsiderUser) }
        #expect(error?.kind == .connectionFailed)
        let store = EventStore(
            DatabaseConfiguration(
                connectionString: try TestDatabase.connectionString(
                    database: TestDatabase.name(of: configuration), user: TestDatabase.outsiderUser)))
        await #expect(throws: StoreError.self) { try await store.readStream(.worker("w1")) }
    }

    @Test("the owner role cannot log in")
    func ownerCannotLogIn() async throws {
        let configuration = try await populated()
        let error = #expect(throws: PostgresError.self) { try connection(configuration, user: "dossier_owner") }
        #expect(error?.kind == .connectionFailed)
    }

    @Test("personal data can be erased but not rewritten or deleted")
    func personalDataEraseOnly() async throws {
        let configuration = try await populated()
        let admin = try adminConnection(configuration)
        let id = try admin.query("SELECT event_id FROM dossier.events WHERE version = 1").scalar(UUID.self)!
        // Only the owner (the append functions) inserts personal data; the superuser acts as it here.
        try admin.execute("SET ROLE dossier_owner")
        try admin.query(
            "INSERT INTO dossier.personal_data (event_id, stream, fields, salt) VALUES (\(id), 'worker/w1', '{\"name\": \"张伟\"}', '\\x01')")
        try admin.execute("RESET ROLE")
        let rewrite = #expect(throws: PostgresError.self) {
            try admin.query("UPDATE dossier.personal_data SET fields = '{\"name\": \"李伟\"}'")
        }
        #expect(rewrite?.sqlState == .immutableLog)
        let delete = #expect(throws: PostgresError.self) { try admin.query("DELETE FROM dossier.personal_data") }
        #expect(delete?.sqlState == .immutableLog)
        try admin.query(
            """
            UPDATE dossier.personal_data SET fields = NULL, salt = NULL, erased_at = now(), erased_by = 'dpo',
                   erasure_reference = 'ER-1'
            """)
        #expect(try admin.query("SELECT count(*) FROM dossier.personal_data WHERE fields IS NULL").scalar(Int64.self) == 1)
    }
}
