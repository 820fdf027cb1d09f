import DossierDomain
import DossierStore
import DossierTestSupport
import Foundation
import PostgresClient

func event(
    _ type: String = "training", reference: String = UUID().uuidString, payload: JSONObject = JSONObject([("hours", .integer(8))]),
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

func count(_ configuration: DatabaseConfiguration) throws -> Int64 {
    try adminConnection(configuration).query("SELECT count(*) FROM dossier.events").scalar(Int64.self) ?? -1
}
