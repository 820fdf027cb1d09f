import CLibPQ

extension PostgresConnection {
    /// Runs `query` through a cursor and hands its rows to `body` a batch of `batchSize` at a
    /// time, so a result of any size holds the memory of one batch; `body` returns false to stop.
    ///
    /// In a transaction already, the cursor lives in it and is closed after; else it gets a
    /// transaction of its own (committed when the rows are read, rolled back when anything throws).
    public func forEachBatch(_ query: PostgresQuery, batchSize: Int, _ body: (QueryResult) throws -> Bool) throws {
        let declare = PostgresQuery(unsafeSQL: "DECLARE dossier_batches NO SCROLL CURSOR FOR " + query.sql, binds: query.binds)
        // FETCH takes no parameters: the count is an integer spelled out.
        let fetch = PostgresQuery(unsafeSQL: "FETCH \(max(1, batchSize)) FROM dossier_batches")
        func read(_ connection: PostgresConnection) throws {
            // Planned for reading every row (a cursor is planned for the first tenth by default,
            // which can pick a plan that is slow to finish), for this statement only.
            let fraction = try connection.query("SELECT current_setting('cursor_tuple_fraction')").scalar(String.self) ?? "0.1"
            try connection.query("SELECT set_config('cursor_tuple_fraction', '1', true)")
            try connection.query(declare)
            try connection.query("SELECT set_config('cursor_tuple_fraction', \(fraction), true)")
            while true {
                let batch = try connection.query(fetch)
                guard batch.rowCount > 0, try body(batch) else { break }
            }
            try connection.query("CLOSE dossier_batches")
        }
        if transactionState == .idle {
            try transaction { try read($0) }
        } else {
            try read(self)
        }
    }
}
