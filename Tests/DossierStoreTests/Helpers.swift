import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient
import Testing

func event(
    _ type: String = "training", reference: String = UUID().uuidString, payload: JSONObject = JSONObject([("kind", .string("special")), ("hours", .integer(8))]),
    effective: String = "2025-03-01", authority: String = "Huangpu District HR"
) -> NewEvent {
    NewEvent(
        type: type, payload: payload, effective: CalendarDate(effective)!, authority: authority, reference: reference)
}

func adminConnection(_ configuration: DatabaseConfiguration) throws -> PostgresConnection {
    try PostgresConnection(connectionString: configuration.connectionString)
}

func connection(_ configuration: DatabaseConfiguration, user: String) throws -> PostgresConnection {
    try PostgresConnection(
        connectionString: TestDatabase.connectionString(database: TestDatabase.name(of: configuration), user: user))
}

/// Runs each of `statements` on `connection` and expects PostgreSQL to refuse it for want of a
/// privilege (42501). `who` names the connection's user in the failure messages.
func expectNoPrivilege(
    _ statements: [PostgresQuery], on connection: PostgresConnection, as who: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    for statement in statements {
        let error = #expect(throws: PostgresError.self, "\(who) ran \(statement.sql)", sourceLocation: sourceLocation) {
            try connection.query(statement)
        }
        #expect(error?.sqlState == .insufficientPrivilege, "\(who): \(statement.sql): \(String(describing: error))", sourceLocation: sourceLocation)
    }
}

/// The events of decision streams (the `access` stream's changes to people are left out).
func count(_ configuration: DatabaseConfiguration) throws -> Int64 {
    try adminConnection(configuration).query("SELECT count(*) FROM dossier.events WHERE stream <> 'access'").scalar(Int64.self) ?? -1
}

/// A hire into a district of 上海, as the event store holds it.
func hireEvent(district: String, city: String = "上海", reference: String = UUID().uuidString) -> NewEvent {
    event(
        "hire", reference: reference,
        payload: JSONObject([
            ("community", .string("桥二居民区")), ("street", .string("五里桥街道")), ("district", .string(district)),
            ("city", .string(city)), ("post", .string("staff")), ("role", .string("staff")), ("level", .integer(3)),
            ("education", .string("bachelor")),
        ]), effective: "2020-01-01")
}
