import DossierStore
import Foundation
import PostgresClient

/// The server's connections: a fixed number of `PostgresSession`s, each one connection on a
/// thread of its own (libpq blocks; it never runs on NIO's event loops or the cooperative pool).
///
/// A request borrows one session for its whole life and acts on it as its person: the first thing
/// done with a borrowed session is to set `role` to that person (or back to the server's own login),
/// so nothing one request set can leak into the next. A request that cannot get a session within
/// `waitLimit` gets `PoolBusy` (503 with Retry-After), not a hang.
public final class SessionPool: Sendable {
    let sessions: [PostgresSession]
    let configuration: DatabaseConfiguration
    private let queue: Queue
    let waitLimit: Duration

    /// Thrown when no connection came free in time.
    public struct PoolBusy: Error {}

    public init(_ configuration: DatabaseConfiguration, size: Int, waitLimit: Duration = .seconds(5)) {
        self.configuration = configuration
        // A connection (re)opened under a request acts as dossier_gateway, which is no person and
        // holds no rights: if a connection were ever reopened mid-request, the rest of that request
        // would be refused rather than run as the server's own login.
        self.sessions = (0..<max(1, size)).map { index in
            PostgresSession.open(configuration, role: .actingFor("dossier_gateway"), label: "dossier.serve.\(index)")
        }
        self.queue = Queue(count: max(1, size))
        self.waitLimit = waitLimit
    }

    /// Runs `body` on a borrowed session acting as `person` (the server's own login when nil).
    ///
    /// With `fresh`, the projections are first brought up to date as the server's own login (a
    /// person reading a roster sees what was just recorded, whatever their role may keep).
    public func with<T: Sendable>(
        as person: String?, fresh: Bool = false, metrics: ServerMetrics? = nil, _ body: @Sendable (PostgresSession) async throws -> T
    ) async throws -> T {
        let started = ContinuousClock.now
        let index = try await queue.acquire(timeout: waitLimit)
        metrics?.poolWait(ContinuousClock.now - started)
        defer { Task { await queue.release(index) } }
        let session = sessions[index]
        if fresh { await Self.catchUp(session) }
        try await Self.act(session, as: person)
        return try await body(session)
    }

    /// Puts a borrowed session in a clean state acting as `person`.
    /// Returns the person's Dossier role (nil for the server's own login).
    @discardableResult
    static func act(_ session: PostgresSession, as person: String?) async throws -> String? {
        do {
            return try await session.run { connection -> String? in
                if connection.transactionState != .idle { try? connection.executeScript("ROLLBACK") }
                _ = try connection.query("SELECT set_config('role', 'none', false)")
                if let person {
                    do {
                        _ = try connection.query("SELECT set_config('role', \(person), false)")
                    } catch let error as PostgresError where error.sqlState == .insufficientPrivilege || error.sqlState?.code == "22023" {
                        // A person added since the server last made itself their gateway: once more.
                        _ = try connection.query("SELECT dossier.sync_gateway()")
                        _ = try connection.query("SELECT set_config('role', \(person), false)")
                    }
                    // A person disabled since they logged in is refused here, whatever the
                    // request reads (dossier.actor() raises DS010 for them).
                    return try connection.query("SELECT role FROM dossier.actor()").scalar(String.self)
                }
                return nil
            }
        } catch let error as PostgresError where error.sqlState == .insufficientPrivilege || error.sqlState?.code == "22023" {
            throw StoreError.notAllowed("the server's login may not act for this person (it needs the dossier_gateway role)")
        } catch let error as PostgresError {
            throw StoreError.from(error)
        }
    }

    /// Applies the events the projections do not reflect yet, when the server's login may.
    static func catchUp(_ session: PostgresSession) async {
        _ = try? await session.run { connection in
            if connection.transactionState != .idle { try? connection.executeScript("ROLLBACK") }
            _ = try connection.query("SELECT set_config('role', 'none', false)")
            _ = try Projector.catchUpIfAllowed(connection, wait: true)
        }
    }

    /// Closes every connection (the next use opens new ones).
    public func close() async {
        for session in sessions { await session.close() }
    }

    /// Free session indices and the requests waiting for one, first come first served.
    actor Queue {
        private var free: [Int]
        private var waiters: [(id: UInt64, continuation: CheckedContinuation<Int, Error>)] = []
        private var nextID: UInt64 = 0

        init(count: Int) { free = Array((0..<count).reversed()) }

        func acquire(timeout: Duration) async throws -> Int {
            if let index = free.popLast() { return index }
            let id = nextID
            nextID += 1
            return try await withCheckedThrowingContinuation { continuation in
                waiters.append((id, continuation))
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    await self?.expire(id)
                }
            }
        }

        private func expire(_ id: UInt64) {
            guard let position = waiters.firstIndex(where: { $0.id == id }) else { return }
            waiters.remove(at: position).continuation.resume(throwing: PoolBusy())
        }

        func release(_ index: Int) {
            if waiters.isEmpty {
                free.append(index)
            } else {
                waiters.removeFirst().continuation.resume(returning: index)
            }
        }
    }
}
