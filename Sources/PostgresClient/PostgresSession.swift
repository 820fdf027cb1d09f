import Dispatch

/// An async owner of one `PostgresConnection`, running every libpq call on a dispatch queue of
/// its own, so blocking calls never occupy a thread of the Swift concurrency pool.
///
/// The connection is opened on first use and opened again after a failure left it unusable;
/// `setUp` runs on every new connection (for `SET ROLE`, `LISTEN` and the like).
public actor PostgresSession {
    private let executor: QueueExecutor
    private let connectionString: String
    private let setUp: @Sendable (PostgresConnection) throws -> Void
    private var connection: PostgresConnection?

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    public init(
        connectionString: String, label: String = "dossier.postgres",
        setUp: @escaping @Sendable (PostgresConnection) throws -> Void = { _ in }
    ) {
        self.executor = QueueExecutor(queue: DispatchQueue(label: label))
        self.connectionString = connectionString
        self.setUp = setUp
    }

    /// Runs `body` with the session's connection, on the session's queue.
    public func withConnection<T: Sendable>(_ body: (PostgresConnection) throws -> T) throws -> T {
        if let connection, connection.isUsable {
            return try body(connection)
        }
        connection = nil
        let fresh = try PostgresConnection(connectionString: connectionString)
        try setUp(fresh)
        connection = fresh
        return try body(fresh)
    }

    /// True when called from this session's queue: where every libpq call of the session runs.
    public nonisolated var isOnSessionQueue: Bool { executor.isCurrent }

    /// Closes the connection; the next call opens a new one.
    public func close() {
        connection = nil
    }
}

/// A serial executor backed by a dispatch queue.
final class QueueExecutor: SerialExecutor, @unchecked Sendable {
    private let queue: DispatchQueue
    private let key = DispatchSpecificKey<ObjectIdentifier>()

    init(queue: DispatchQueue) {
        self.queue = queue
        queue.setSpecific(key: key, value: ObjectIdentifier(self))
    }

    var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == ObjectIdentifier(self) }

    func enqueue(_ job: UnownedJob) {
        queue.async {
            job.runSynchronously(on: self.asUnownedSerialExecutor())
        }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }
}
