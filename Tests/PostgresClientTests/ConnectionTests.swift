import DossierTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("PostgresConnection")
struct ConnectionTests {
    func connect() throws -> PostgresConnection {
        try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
    }

    @Test("a refused connection is a connectionFailed error with libpq's reason, not a crash")
    func refusedConnection() throws {
        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection(connectionString: "host=/nonexistent-dossier-dir port=1 connect_timeout=2")
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.context?.contains("/nonexistent-dossier-dir") == true)
    }

    @Test("an unparsable connection string is refused")
    func badConnectionString() {
        #expect(throws: PostgresError.self) {
            try PostgresConnection(connectionString: "host='unterminated")
        }
    }

    @Test("every supported type goes out as a parameter and comes back decoded")
    func roundTrip() throws {
        let connection = try connect()
        let id = UUID()
        let stamp = PostgresTimestamp(microsecondsSinceEpoch: 1_764_000_000_123_456)
        let date = PostgresDate(year: 2024, month: 2, day: 29)
        let json = PostgresJSONB(#"{"名字": "张伟", "n": 1}"#)
        let bytes = PostgresBytea([0, 1, 2, 0xfe, 0xff])
        let row = try connection.query(
            """
            SELECT \("张伟; DROP TABLE x; --")::text, \(Int64.max)::bigint, \(Int32.min)::integer, \(true)::boolean,
                   \(date)::date, \(stamp)::timestamptz, \(json)::jsonb, \(bytes)::bytea, \(id)::uuid,
                   \(Optional<String>.none)::text, \(2.5)::float8
            """)[0]
        #expect(try row.decode(String.self, at: 0) == "张伟; DROP TABLE x; --")
        #expect(try row.decode(Int64.self, at: 1) == Int64.max)
        #expect(try row.decode(Int32.self, at: 2) == Int32.min)
        #expect(try row.decode(Bool.self, at: 3) == true)
        #expect(try row.decode(PostgresDate.self, at: 4) == date)
        #expect(try row.decode(PostgresTimestamp.self, at: 5) == stamp)
        #expect(try row.decode(PostgresJSONB.self, at: 6).text.contains("张伟"))
        #expect(try row.decode(PostgresBytea.self, at: 7) == bytes)
        #expect(try row.decode(UUID.self, at: 8) == id)
        #expect(try row.decodeIfPresent(String.self, at: 9) == nil)
        #expect(try row.decode(Double.self, at: 10) == 2.5)
    }

    @Test("timestamps before 1970 and with zone offsets decode exactly")
    func timestampEdges() throws {
        let connection = try connect()
        let row = try connection.query(
            "SELECT '1969-12-31 23:59:59.5+00'::timestamptz, '2026-01-01 08:00:00+08'::timestamptz")[0]
        #expect(try row.decode(PostgresTimestamp.self, at: 0).microsecondsSinceEpoch == -500_000)
        let eight = try row.decode(PostgresTimestamp.self, at: 1)
        #expect(eight.description == "2026-01-01T00:00:00.000000Z")
    }

    @Test("NULL in a non-optional column and a wrong type are decoding errors naming the column")
    func decodingErrors() throws {
        let connection = try connect()
        let result = try connection.query("SELECT NULL::text AS missing, 'abc'::text AS word")
        let nullError = #expect(throws: PostgresError.self) { try result[0].decode(String.self, at: 0) }
        #expect(nullError?.kind == .decoding)
        #expect(nullError?.columnName == "missing")
        let typeError = #expect(throws: PostgresError.self) { try result[0].decode(Int.self, at: 1) }
        #expect(typeError?.columnName == "word")
        #expect(typeError?.description.contains("abc") == false)
    }

    @Test("server errors carry the SQLSTATE and keep data out of the description")
    func serverErrorCarriesSQLState() throws {
        let connection = try connect()
        try connection.execute("CREATE TEMPORARY TABLE secret (name text PRIMARY KEY)")
        try connection.query("INSERT INTO secret VALUES (\("王秀英的身份证"))")
        let error = #expect(throws: PostgresError.self) {
            try connection.query("INSERT INTO secret VALUES (\("王秀英的身份证"))")
        }
        #expect(error?.sqlState == .uniqueViolation)
        #expect(error?.constraintName == "secret_pkey")
        #expect(error?.description.contains("王秀英") == false)
        #expect(error?.debugDescription.contains("王秀英") == true)
        // The connection is still usable after a statement error.
        #expect(try connection.query("SELECT 1").scalar(Int32.self) == 1)
    }

    @Test("a NUL character in a parameter is refused before it is sent")
    func nulCharacter() throws {
        let connection = try connect()
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT \("a\u{0}b")::text") }
        #expect(error?.kind == .encoding)
    }

    @Test("interpolated fragments are renumbered after the outer parameters")
    func fragments() throws {
        let connection = try connect()
        let inner: PostgresQuery = "\(2) + \(3)"
        let query: PostgresQuery = "SELECT \(1) + \(fragment: inner) + \(4)"
        #expect(query.sql == "SELECT $1 + $2 + $3 + $4")
        #expect(try connection.query(query).scalar(Int64.self) == 10)
    }
}

@Suite("Transactions")
struct TransactionTests {
    struct Boom: Error {}

    @Test("commit on return, roll back on throw")
    func commitAndRollback() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute("CREATE TEMPORARY TABLE t (n int)")
        _ = try connection.transaction { try $0.query("INSERT INTO t VALUES (\(Int32(1)))") }
        #expect(throws: Boom.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (\(Int32(2)))")
                throw Boom()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM t").scalar(Int64.self) == 1)
        #expect(connection.transactionState == .idle)
    }

    @Test("a failing ROLLBACK never hides the original error")
    func rollbackFailureKeepsOriginalError() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        let killer = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        let pid = connection.backendPID
        #expect(throws: Boom.self) {
            try connection.transaction { _ in
                // The server goes away under the transaction, so ROLLBACK cannot succeed either.
                try killer.query("SELECT pg_terminate_backend(\(pid))")
                Thread.sleep(forTimeInterval: 0.2)
                throw Boom()
            }
        }
        #expect(connection.isUsable == false)
        let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(error?.kind == .connectionLost)
    }

    @Test("a failing COMMIT is thrown and leaves no transaction open")
    func commitFailure() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute(
            """
            CREATE TEMPORARY TABLE d (n int UNIQUE DEFERRABLE INITIALLY DEFERRED)
            """)
        let error = #expect(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO d VALUES (1), (1)")
            }
        }
        #expect(error?.sqlState == .uniqueViolation)
        #expect(connection.transactionState == .idle)
        #expect(try connection.query("SELECT count(*) FROM d").scalar(Int64.self) == 0)
    }
}

@Suite("COPY, pipelines, notifications, sessions")
struct BulkAndAsyncTests {
    @Test("COPY FROM STDIN writes every row, escaping tabs, newlines, backslashes and NULL")
    func copyRows() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute("CREATE TEMPORARY TABLE c (n bigint, s text, j jsonb)")
        let tricky = "tab\tnew\nline\\back\rslash 李娜"
        let count = try connection.copyFrom("COPY c (n, s, j) FROM STDIN") { writer in
            for n in 0..<20_000 {
                writer.field(Int64(n))
                writer.field(n == 7 ? nil : tricky)
                writer.field(PostgresJSONB(#"{"k": "\t\\"}"#))
                try writer.endRow()
            }
        }
        #expect(count == 20_000)
        #expect(try connection.query("SELECT s FROM c WHERE n = 3").scalar(String.self) == tricky)
        #expect(try connection.query("SELECT count(*) FROM c WHERE s IS NULL").scalar(Int64.self) == 1)
    }

    @Test("rows from detached writers arrive whole and in order, small ones gathered, large ones sent in pieces that split rows and characters")
    func copyDetachedWriters() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute("CREATE TEMPORARY TABLE c (n bigint, s text)")
        // Sizes around the flush threshold (256 KB): a few rows, and 2 MB of 3-byte characters.
        let long = String(repeating: "李", count: 700_000)
        var expected: [(Int64, String)] = []
        var writers: [CopyWriter] = []
        for (index, rows) in [1, 3, 0, 2, 1].enumerated() {
            var writer = CopyWriter()
            for row in 0..<rows {
                let n = Int64(expected.count)
                let text = index == 3 && row == 0 ? long : "slice \(index) row \(row)\t李娜"
                writer.field(n)
                writer.field(text)
                try writer.endRow()
                expected.append((n, text))
            }
            writers.append(writer)
        }
        let count = try connection.copyFrom("COPY c (n, s) FROM STDIN") { writer in
            for slice in writers { try writer.append(slice) }
        }
        #expect(count == expected.count)
        let rows = try connection.query("SELECT n, s FROM c ORDER BY n").rows.map { (try $0.decode(Int64.self, at: 0), try $0.decode(String.self, at: 1)) }
        #expect(rows.map(\.0) == expected.map(\.0))
        #expect(rows.map(\.1) == expected.map(\.1))
    }

    @Test("a COPY whose writer throws writes nothing")
    func copyAbort() throws {
        struct Stop: Error {}
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute("CREATE TEMPORARY TABLE c (n bigint)")
        #expect(throws: Stop.self) {
            try connection.copyFrom("COPY c (n) FROM STDIN") { writer in
                for n in 0..<100 {
                    writer.field(Int64(n))
                    try writer.endRow()
                }
                throw Stop()
            }
        }
        #expect(try connection.query("SELECT count(*) FROM c").scalar(Int64.self) == 0)
    }

    @Test("a pipeline returns results in order, and a failure in it keeps nothing")
    func pipeline() throws {
        let connection = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try connection.execute("CREATE TEMPORARY TABLE p (n int PRIMARY KEY)")
        let results = try connection.pipeline([
            "INSERT INTO p VALUES (1)", "SELECT count(*) FROM p", "SELECT \("二")::text",
        ])
        #expect(try results[1].scalar(Int64.self) == 1)
        #expect(try results[2].scalar(String.self) == "二")
        let error = #expect(throws: PostgresError.self) {
            try connection.pipeline(["INSERT INTO p VALUES (2)", "INSERT INTO p VALUES (1)", "INSERT INTO p VALUES (3)"])
        }
        #expect(error?.sqlState == .uniqueViolation)
        #expect(try connection.query("SELECT count(*) FROM p").scalar(Int64.self) == 1)
        // Separate transactions: the failure does not undo the others.
        #expect(throws: PostgresError.self) {
            try connection.pipeline(
                ["INSERT INTO p VALUES (2)", "INSERT INTO p VALUES (1)", "INSERT INTO p VALUES (3)"],
                separateTransactions: true)
        }
        #expect(try connection.query("SELECT count(*) FROM p").scalar(Int64.self) == 3)
    }

    @Test("LISTEN receives a NOTIFY from another connection; waiting times out quietly")
    func notifications() throws {
        let listener = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        let sender = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try listener.listen("dossier_test_channel")
        #expect(try listener.waitForNotifications(timeoutMilliseconds: 50).isEmpty)
        try sender.notify("dossier_test_channel", payload: "你好")
        var received: [PostgresNotification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try listener.waitForNotifications(timeoutMilliseconds: 250)
        }
        #expect(received.map(\.payload) == ["你好"])
        #expect(received.first?.senderPID == sender.backendPID)
        #expect(throws: PostgresError.self) { try listener.listen("bad\"; DROP") }
    }

    @Test("a session runs libpq calls on its own dispatch queue, not the concurrency pool")
    func sessionQueue() async throws {
        let session = PostgresSession(connectionString: try TestDatabase.adminConnectionString(), label: "dossier.test.q")
        let onQueue = try await session.withConnection { connection in
            _ = try connection.query("SELECT 1")
            return session.isOnSessionQueue
        }
        #expect(onQueue)
        #expect(!session.isOnSessionQueue)
    }

    @Test("a session reconnects after its connection is killed")
    func sessionReconnects() async throws {
        let session = PostgresSession(connectionString: try TestDatabase.adminConnectionString())
        let pid = try await session.withConnection { $0.backendPID }
        let killer = try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
        try killer.query("SELECT pg_terminate_backend(\(pid))")
        try await Task.sleep(for: .milliseconds(200))
        await #expect(throws: PostgresError.self) {
            try await session.withConnection { try $0.query("SELECT 1").rowCount }
        }
        let newPid = try await session.withConnection { $0.backendPID }
        #expect(newPid != pid)
    }
}

@Suite("Reading a batch at a time")
struct BatchTests {
    struct Boom: Error {}

    func connect() throws -> PostgresConnection {
        try PostgresConnection(connectionString: TestDatabase.adminConnectionString())
    }

    @Test("every row comes once, in order, in batches of the size asked, with the query's parameters bound")
    func everyRowOnce() throws {
        let connection = try connect()
        for size in [1, 3, 7, 10, 1000] {
            var seen: [Int32] = []
            var batches: [Int] = []
            try connection.forEachBatch(
                "SELECT n FROM generate_series(1, \(Int32(10))) n WHERE n > \(Int32(0)) ORDER BY n", batchSize: size
            ) { batch in
                batches.append(batch.rowCount)
                seen += try batch.rows.map { try $0.decode(Int32.self, at: 0) }
                return true
            }
            #expect(seen == Array(1...10))
            #expect(batches.allSatisfy { $0 <= size })
            #expect(batches.count == (10 + size - 1) / size)
            #expect(connection.transactionState == .idle)
        }
    }

    @Test("stopping early closes the cursor; inside a transaction it neither commits nor ends it")
    func insideTransaction() throws {
        let connection = try connect()
        try connection.execute("CREATE TEMPORARY TABLE t (n int)")
        #expect(throws: Boom.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (\(Int32(1)))")
                try connection.execute("SET LOCAL cursor_tuple_fraction = 0.3")
                for _ in 0..<2 {  // twice: the first cursor was closed
                    var first: Int32?
                    try connection.forEachBatch("SELECT n FROM generate_series(1, 5) n ORDER BY n", batchSize: 2) { batch in
                        first = try batch.rows.first?.decode(Int32.self, at: 0)
                        return false
                    }
                    #expect(first == 1)
                    #expect(connection.transactionState == .inTransaction)
                    // The plan setting it takes for its own statement is given back.
                    #expect(try connection.query("SHOW cursor_tuple_fraction").scalar(String.self) == "0.3")
                }
                throw Boom()
            }
        }
        // The outer transaction rolled back: the batches did not commit it.
        #expect(try connection.query("SELECT count(*) FROM t").scalar(Int64.self) == 0)
    }

    @Test("an error thrown while reading rolls back the cursor's own transaction")
    func errorRollsBack() throws {
        let connection = try connect()
        #expect(throws: Boom.self) {
            try connection.forEachBatch("SELECT n FROM generate_series(1, 5) n", batchSize: 1) { _ in throw Boom() }
        }
        #expect(connection.transactionState == .idle)
    }
}
