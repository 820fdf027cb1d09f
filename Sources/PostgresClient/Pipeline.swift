import CLibPQ

extension PostgresConnection {
    /// Sends several statements in one round trip (libpq pipeline mode) and returns their
    /// results in order.
    ///
    /// By default the statements share one implicit transaction (a sync point at the end): when
    /// one fails the server skips the rest, nothing of them is kept, and the first failure is
    /// thrown. A transaction opened by the pipeline (`BEGIN` ... `COMMIT`) is rolled back then.
    ///
    /// With `separateTransactions`, each statement gets its own sync point, so it commits on its
    /// own and a failure skips nothing after it; the first failure is still thrown.
    public func pipeline(_ queries: [PostgresQuery], separateTransactions: Bool = false) throws -> [QueryResult] {
        try ensureUsable()
        guard PQenterPipelineMode(handle) == 1 else {
            throw connectionError(context: "could not enter pipeline mode")
        }
        var sent = 0
        var firstError: Error?
        for query in queries {
            let ok = try withParameters(query) { count, types, values -> OpaquePointer? in
                PQsendQueryParams(handle, query.sql, count, types, values, nil, nil, 0) == 1
                    ? OpaquePointer(bitPattern: 1) : nil
            }
            guard ok != nil else {
                firstError = connectionError(context: "could not send a pipelined statement")
                break
            }
            sent += 1
            if separateTransactions, PQpipelineSync(handle) != 1 {
                firstError = connectionError(context: "could not send a pipeline sync")
                break
            }
        }
        if !separateTransactions, PQpipelineSync(handle) != 1, firstError == nil {
            firstError = connectionError(context: "could not send the pipeline sync")
        }
        var results: [QueryResult] = []
        results.reserveCapacity(sent)
        // Each statement yields its result then NULL; each sync yields PGRES_PIPELINE_SYNC.
        var pending = sent
        var syncsLeft = separateTransactions ? sent : 1
        while pending > 0 || syncsLeft > 0 {
            guard let result = PQgetResult(handle) else {
                if PQstatus(handle) != CONNECTION_OK {
                    firstError = firstError ?? connectionError(context: "the connection broke during a pipeline")
                    break
                }
                pending -= 1
                continue
            }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_SYNC {
                PQclear(result)
                syncsLeft -= 1
                continue
            }
            do {
                let checked = try check(
                    result, expecting: [PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY])
                results.append(checked)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if PQexitPipelineMode(handle) != 1 {
            isUsable = false
            firstError = firstError ?? connectionError(context: "could not leave pipeline mode")
        }
        if let firstError {
            rollbackAfterFailure()
            throw firstError
        }
        return results
    }
}
