import DossierDomain
import DossierStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresClient
import ServiceLifecycle
import Synchronization

/// How `dossier serve` runs.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Database connections, each on its own thread.
    public var connections: Int
    /// How long a request waits for a connection before a 503.
    public var connectionWait: Duration
    /// Cookies marked Secure (behind a TLS reverse proxy, or with the proxy's X-Forwarded-Proto).
    public var secureCookies: Bool
    /// How far behind the log the projections may be for /readyz to say ready.
    public var readyLag: Int64
    public var sessionIdle: Duration
    public var sessionAbsolute: Duration
    /// A hot standby (DOSSIER_READ_URL) that serves workers' records and traces; nil: the primary does.
    public var standby: DatabaseConfiguration?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, connections: Int = 8, connectionWait: Duration = .seconds(5),
        secureCookies: Bool = false, readyLag: Int64 = 1000, sessionIdle: Duration = .seconds(30 * 60),
        sessionAbsolute: Duration = .seconds(8 * 3600), standby: DatabaseConfiguration? = nil
    ) {
        self.standby = standby
        self.host = host
        self.port = port
        self.connections = connections
        self.connectionWait = connectionWait
        self.secureCookies = secureCookies
        self.readyLag = readyLag
        self.sessionIdle = sessionIdle
        self.sessionAbsolute = sessionAbsolute
    }
}

/// The request context: Hummingbird's core plus the peer's address (for the login throttle).
public struct DossierContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var remoteAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Imports stream large bodies; everything else is small.
    public var maxUploadSize: Int { 256 << 20 }
}

/// What every route shares: the ledger's connections, sessions, throttle, metrics.
public final class ServerCore: Sendable {
    public let settings: ServerSettings
    public let configuration: DatabaseConfiguration
    public let pool: SessionPool
    /// Connections to the standby, when there is one (as many as to the primary).
    public let standbyPool: SessionPool?
    public let sessions: BrowserSessions
    public let throttle: LoginThrottle
    let loginGate = LoginGate()
    /// The decision forms' fields by kind, read from the ledger's vocabulary on first use.
    let formFields = Mutex<[String: [Web.FormField]]>([:])
    public let metrics: ServerMetrics
    public let imports = ImportBoard()
    public let verifications = VerificationBoard()
    let logger: Logger

    public init(configuration: DatabaseConfiguration, settings: ServerSettings, logger: Logger) {
        self.settings = settings
        self.configuration = configuration
        self.pool = SessionPool(configuration, size: settings.connections, waitLimit: settings.connectionWait)
        self.standbyPool = settings.standby.map { SessionPool($0, size: settings.connections, waitLimit: settings.connectionWait) }
        self.sessions = BrowserSessions(idle: settings.sessionIdle, absolute: settings.sessionAbsolute)
        self.throttle = LoginThrottle()
        self.metrics = ServerMetrics()
        self.logger = logger
    }

    public static let sessionCookie = "dossier_session"
    /// Says whether the primary or the standby answered a read.
    public static let readFromHeader = HTTPField.Name("X-Dossier-Read-From")!

    /// The person a request acts for: from its session cookie, or its bearer token.
    func identity(_ request: Request) async throws -> Identity? {
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer", let token = AccessToken(String(parts[1])) else {
                throw Problem(.unauthorized, "bad-token", "Invalid token", "Authorization must be \"Bearer dsr_…\" with a token from `dossier user token NAME`")
            }
            // The token's person and their role, on one borrowed connection.
            let found = try await pool.with(as: nil, metrics: metrics) { session -> (person: String, role: String)? in
                guard let person = try await session.run({ try People.tokenPerson($0, token: token) }),
                    let role = try await SessionPool.act(session, as: person)
                else { return nil }
                return (person, role)
            }
            guard let found else {
                throw Problem(.unauthorized, "bad-token", "Invalid token", "this token is unknown, revoked, or its person is disabled")
            }
            return Identity(person: found.person, role: found.role, viaToken: true, csrf: nil)
        }
        if let id = request.cookies[Self.sessionCookie]?.value, let identity = sessions.identity(id) {
            return identity
        }
        return nil
    }

    /// Where a read was answered (the `X-Dossier-Read-From` header says it).
    enum ReadSource: String, Sendable { case primary, standby }

    /// Reads through a `Ledger` acting as the identity's person: on the standby when there is one,
    /// else on the primary.
    ///
    /// Read-your-writes: the read is logged on the primary first (personal data is read only
    /// after its access-log entry is committed), and the standby answers only once it has replayed
    /// that entry, so it has replayed every write this server acknowledged before it. When it has
    /// not within 2 s, or cannot serve the read (unreachable, a person it does not know yet), the
    /// primary answers.
    func readLedger<T: Sendable>(_ identity: Identity, _ body: @escaping @Sendable (Ledger) async throws -> T) async throws
        -> (value: T, source: ReadSource)
    {
        if let standbyPool {
            do {
                let value = try await act(identity) { primary in
                    try await standbyPool.with(as: identity.person, metrics: metrics) { standby in
                        try await body(
                            Ledger(session: standby, configuration: standbyPool.configuration, actingFor: identity.person, accessLog: primary))
                    }
                }
                return (value, .standby)
            } catch where Self.standbyCannotServe(error) {
                logger.info("read on the primary: the standby cannot serve it (\(type(of: error)))")
            }
        }
        let value = try await act(identity) { session in
            try await body(Ledger(session: session, configuration: configuration, actingFor: identity.person))
        }
        return (value, .primary)
    }

    /// Errors after which the primary answers a read the standby could not.
    static func standbyCannotServe(_ error: Error) -> Bool {
        switch error {
        case is ReadReplica.Lagging, is SessionPool.PoolBusy: return true
        case let error as PostgresError: return StoreError.isReadOnlyRefusal(error) || error.isLostConnection
        case let error as StoreError:
            switch error {
            case .unavailable, .notAllowed, .timedOut: return true
            default: return StoreError.isReadOnlyRefusal(error)
            }
        default: return false
        }
    }

    /// Runs `body` on a connection acting as the identity's person.
    func act<T: Sendable>(_ identity: Identity, fresh: Bool = false, _ body: @Sendable (PostgresSession) async throws -> T) async throws -> T {
        try await pool.with(as: identity.person, fresh: fresh, metrics: metrics, body)
    }

    /// Keeps the projections caught up (the server's login must be able to keep them: an admin,
    /// as on the embedded default), and reports the lag to /metrics.
    func followProjections() async {
        let session = PostgresSession.open(configuration, role: .person, label: "dossier.serve.projector")
        var warned = false
        while !Task.isCancelled {
            do {
                let lag = try await session.run { connection -> Int64 in
                    let position = try Projector.catchUpIfAllowed(connection, wait: false)
                    return max(0, try EventLog.lastPosition(connection) - position)
                }
                metrics.projectionLag(lag)
            } catch {
                if !warned {
                    logger.warning("projections not kept up to date", metadata: ["error": "\(type(of: error))"])
                    warned = true
                }
            }
            metrics.sessions(sessions.count)
            try? await Task.sleep(for: .milliseconds(500))
        }
        await session.close()
    }

    /// Whether the server can serve: database reachable, schema current, projections within bound.
    func readiness() async -> (ready: Bool, checks: JSONObject) {
        var checks = JSONObject()
        var ready = true
        do {
            let (pending, lag) = try await pool.with(as: nil, metrics: metrics) { session in
                try await session.run { connection -> (Int, Int64) in
                    let applied = try connection.query("SELECT count(*) FROM public.dossier_migrations").scalar(Int64.self) ?? 0
                    let pending = EmbeddedMigration.all.count - Int(applied)
                    let lag = max(0, try EventLog.lastPosition(connection) - (try Projector.checkpoint(connection)))
                    return (pending, lag)
                }
            }
            checks["database"] = .string("reachable")
            checks["schema"] = .string(pending == 0 ? "current" : "\(pending) migrations pending: run dossier init")
            checks["projectionLag"] = .integer(lag)
            if pending != 0 || lag > settings.readyLag { ready = false }
        } catch {
            checks["database"] = .string("unreachable")
            ready = false
        }
        return (ready, checks)
    }
}

/// Imports running now, with their progress (readable while they run: GET /api/imports).
public final class ImportBoard: Sendable {
    public struct Entry: Sendable {
        public var id: UUID
        public var person: String
        public var started: Date
        public var lines: Int
        public var done: Int
        public var state: String
    }

    private let entries = Mutex<[UUID: Entry]>([:])

    func start(person: String) -> UUID {
        let id = UUID()
        let entry = Entry(id: id, person: person, started: Date(), lines: 0, done: 0, state: "running")
        entries.withLock { $0[id] = entry }
        return id
    }

    func update(_ id: UUID, lines: Int, done: Int) {
        entries.withLock { entries in
            entries[id]?.lines = lines
            entries[id]?.done = done
        }
    }

    func finish(_ id: UUID, state: String) {
        let now = Date()
        entries.withLock { entries in
            entries[id]?.state = state
            // Finished imports stay listed for ten minutes.
            entries = entries.filter { (_, entry: Entry) in entry.state == "running" || now.timeIntervalSince(entry.started) < 600 }
        }
    }

    func of(person: String) -> [Entry] {
        let mine: [Entry] = entries.withLock { entries in entries.values.filter { $0.person == person } }
        return mine.sorted { $0.started < $1.started }
    }
}

/// The last integrity verification the server ran (for the integrity page and GET /api/verify).
public final class VerificationBoard: Sendable {
    private let last = Mutex<JSONObject?>(nil)
    func set(_ object: JSONObject) { last.withLock { $0 = object } }
    func get() -> JSONObject? { last.withLock { $0 } }
}

/// `dossier serve`: builds the application and runs it until SIGTERM or SIGINT, then stops
/// accepting, finishes the requests in flight, closes the connections and returns.
public enum DossierService {
    public static func makeApplication(core: ServerCore, onRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        let router = Router(context: DossierContext.self)
        router.add(middleware: FrontMiddleware(core: core))
        API.register(on: router, core: core)
        Web.register(on: router, core: core)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(core.settings.host, port: core.settings.port), serverName: nil),
            services: [ProjectionFollower(core: core)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? core.settings.port) },
            logger: core.logger)
    }

    public static func run(configuration: DatabaseConfiguration, settings: ServerSettings, logger: Logger) async throws {
        let core = ServerCore(configuration: configuration, settings: settings, logger: logger)
        // The server acts for people: its login must hold dossier_gateway.
        try await core.pool.with(as: nil) { session in
            try await session.run { connection in
                // A ledger not (yet) migrated to this program's schema: say so before anything else.
                let applied = (try? connection.query("SELECT count(*) FROM public.dossier_migrations").scalar(Int64.self)) ?? 0
                guard Int(applied) >= EmbeddedMigration.all.count else { throw StoreError.notInitialized }
                let gateway = try connection.query("SELECT pg_has_role(session_user, 'dossier_gateway', 'MEMBER')").scalar(Bool.self) ?? false
                guard gateway else {
                    throw StoreError.notAllowed(
                        "the server's login may not act for people: a superuser must `GRANT dossier_gateway TO` it (dossier init does on the embedded default)")
                }
                _ = try connection.query("SELECT dossier.sync_gateway()")
            }
        }
        let app = makeApplication(core: core) { port in
            logger.info("dossier serve: listening", metadata: ["address": "http://\(settings.host):\(port)"])
        }
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EACCES || error.errnoCode == EADDRNOTAVAIL {
            await core.pool.close()
            throw ServeError(
                description: "cannot listen on \(settings.host):\(settings.port): "
                    + (error.errnoCode == EADDRINUSE ? "the address is in use" : error.errnoCode == EACCES ? "permission denied" : "no such local address")
                    + "; choose another with --listen HOST:PORT")
        }
        await core.pool.close()
    }
}

/// Why the server could not start, said to the person who started it.
public struct ServeError: Error, CustomStringConvertible {
    public var description: String
}

/// Keeps the projections caught up while the server runs; ends with it.
struct ProjectionFollower: Service {
    let core: ServerCore
    func run() async throws {
        // On SIGTERM the follower is cancelled (between catch-ups) so the service group can end.
        try? await cancelWhenGracefulShutdown {
            await core.followProjections()
        }
    }
}

/// Around every request: answers errors as problems (API) or pages, adds the security headers,
/// and counts the request by route pattern and status.
struct FrontMiddleware: RouterMiddleware {
    typealias Context = DossierContext
    let core: ServerCore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response: Response
        let isPage = !(request.uri.path.hasPrefix("/api/") || request.uri.path == "/openapi.json")
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            response = isPage ? Web.errorPage(request, status: .notFound, message: nil) : Problem(.notFound, "not-found", "Not found", "no such resource: see /openapi.json").response()
        } catch let error as HTTPError {
            response = Problem(error.status, "http", error.status.reasonPhrase, error.body ?? error.status.reasonPhrase).response()
        } catch {
            let problem = Problem.from(error)
            if problem.status.code >= 500 {
                core.logger.error("request failed", metadata: ["route": "\(context.endpointPath ?? "?")", "error": "\(type(of: error))"])
            }
            response = isPage && problem.status != .serviceUnavailable ? Web.errorPage(request, status: problem.status, message: problem.detail) : problem.response()
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        // A response with a policy of its own (the printable record: inline style, nothing else) keeps it.
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] =
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"
        }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        core.metrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: Int(response.status.code),
            duration: ContinuousClock.now - started)
        return response
    }
}

// MARK: Small helpers shared by the API and the pages

extension Request {
    /// A query parameter, when present and not empty.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }

    func date(_ name: String) throws -> CalendarDate? {
        try query(name).map { text in
            guard let date = CalendarDate(text) else { throw Problem.badParameter(name, "must be a real date written YYYY-MM-DD, not \"\(text.prefix(40))\"") }
            return date
        }
    }

    func time(_ name: String) throws -> Timestamp? {
        try query(name).map { text in
            guard let time = Timestamp(parsing: text) else {
                throw Problem.badParameter(name, "must be a date (YYYY-MM-DD, meaning its end) or an ISO 8601 time such as 2026-01-31T12:00:00Z")
            }
            return time
        }
    }

    /// The request's body, up to `limit` bytes (413 beyond).
    func bytes(limit: Int) async throws -> [UInt8] {
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw Problem(.contentTooLarge, "too-large", "Body too large", "the body may be at most \(limit) bytes")
        }
    }
}

extension JSONValue {
    /// A JSON response.
    func response(_ status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: prettyText() + "\n")))
    }
}
