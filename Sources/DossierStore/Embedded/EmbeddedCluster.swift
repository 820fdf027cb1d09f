import Foundation
import PostgresClient

#if canImport(Glibc)
    import Glibc
#endif

/// The private PostgreSQL cluster `dossier` uses when no `DOSSIER_DATABASE_URL` is set.
///
/// It lives under one directory (`DOSSIER_HOME`, by default `~/.local/share/dossier`, or
/// `/var/lib/dossier` for root): `pgdata/` holds the cluster, `run/` its Unix socket (no TCP
/// port is opened), `postgresql.log` the server log. It is created with `initdb` on first use,
/// started on demand, and reused afterwards. PostgreSQL refuses to run as root, so when
/// `dossier` runs as root the server runs as an unprivileged user (`DOSSIER_PG_USER`, else
/// `postgres`, else `nobody`).
public struct EmbeddedCluster: Sendable {
    public let home: URL
    public let binaries: URL?
    let serverUser: String?
    static let databaseName = "dossier"
    static let superuser = "dossier"

    public var dataDirectory: URL { home.appending(path: "pgdata") }
    public var socketDirectory: URL { home.appending(path: "run") }
    public var logFile: URL { home.appending(path: "postgresql.log") }

    public enum Status: Sendable, Equatable {
        case notCreated
        case stopped
        /// The postmaster runs and answers on the socket.
        case running(pid: Int)
        /// The postmaster's process exists but the server does not answer (hung, starting up,
        /// shutting down, or recovering).
        case notAnswering(pid: Int)
        /// `postmaster.pid` names a process that is gone (or a zombie): the server was killed or
        /// crashed; `start` recovers.
        case crashed(pid: Int)
    }

    /// Why the embedded cluster could not be used.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
        /// The request itself was refused (bad input, data in the way), not the database unusable.
        public var refused = false

        public init(description: String, refused: Bool = false) {
            self.description = description
            self.refused = refused
        }
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let isRoot = geteuid() == 0
        if let home = environment["DOSSIER_HOME"], !home.isEmpty {
            self.home = URL(filePath: home, directoryHint: .isDirectory)
        } else if isRoot {
            self.home = URL(filePath: "/var/lib/dossier", directoryHint: .isDirectory)
        } else if let data = environment["XDG_DATA_HOME"], !data.isEmpty {
            self.home = URL(filePath: data, directoryHint: .isDirectory).appending(path: "dossier")
        } else {
            self.home = FileManager.default.homeDirectoryForCurrentUser.appending(path: ".local/share/dossier")
        }
        self.binaries = Self.findBinaries(environment: environment)
        if isRoot {
            let candidates = [environment["DOSSIER_PG_USER"], "postgres", "nobody"].compactMap { $0 }
            self.serverUser = candidates.first { getpwnam($0) != nil }
        } else {
            self.serverUser = nil
        }
    }

    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    static func findBinaries(environment: [String: String]) -> URL? {
        func hasServer(_ directory: URL) -> Bool {
            ["initdb", "pg_ctl", "postgres"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: directory.appending(path: $0).path)
            }
        }
        if let explicit = environment["DOSSIER_PG_BIN"], !explicit.isEmpty {
            let url = URL(filePath: explicit, directoryHint: .isDirectory)
            return hasServer(url) ? url : nil
        }
        // Debian and Ubuntu keep server binaries per major version.
        let root = URL(filePath: "/usr/lib/postgresql", directoryHint: .isDirectory)
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = root.appending(path: version).appending(path: "bin")
            if hasServer(bin) { return bin }
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let url = URL(filePath: String(directory), directoryHint: .isDirectory)
            if hasServer(url) { return url.resolvingSymlinksInPath() }
        }
        return nil
    }

    /// The operating-system user running `dossier`: on the embedded cluster, also its login role
    /// (PostgreSQL checks it by peer authentication on the Unix socket; no password).
    public static var operatingSystemUser: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "nobody"
    }

    /// A libpq connection string for the cluster's database, as `user` (the operating-system
    /// user by default).
    public func connectionString(user: String = EmbeddedCluster.operatingSystemUser) -> String {
        func quoted(_ value: String) -> String {
            "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
        }
        return "host=\(quoted(socketDirectory.path)) port=5432 dbname=\(Self.databaseName) user=\(quoted(user))"
            + " connect_timeout=10"
    }

    /// The cluster's database as the operating-system user: every everyday command.
    public var configuration: DatabaseConfiguration {
        DatabaseConfiguration(connectionString: connectionString(), label: "the embedded database in \(home.path)")
    }

    /// The cluster's database as its superuser (reached by the same operating-system user through
    /// the ident map): `dossier init`, which creates roles and schemas.
    public var superuserConfiguration: DatabaseConfiguration {
        DatabaseConfiguration(
            connectionString: connectionString(user: Self.superuser), label: "the embedded database in \(home.path)")
    }

    // MARK: Status, start, stop

    /// Whether the cluster exists, and whether its server runs and answers: a live postmaster
    /// process is not enough (after `kill -9` its pid can linger as a zombie), so a running one is
    /// asked with `pg_isready` (3 s at most).
    public func status() -> Status {
        let state = processState()
        guard case .running(let pid) = state else { return state }
        return answers() ? .running(pid: pid) : .notAnswering(pid: pid)
    }

    /// The cluster's state from `postmaster.pid` and the process table alone (no connection):
    /// `.running` means only that the postmaster's process exists.
    func processState() -> Status {
        guard FileManager.default.fileExists(atPath: dataDirectory.appending(path: "PG_VERSION").path) else {
            return .notCreated
        }
        guard let pid = postmasterPID() else { return .stopped }
        return Self.processExists(pid) ? .running(pid: pid) : .crashed(pid: pid)
    }

    /// The pid in `postmaster.pid`, if the file exists.
    func postmasterPID() -> Int? {
        let pidFile = dataDirectory.appending(path: "postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int($0) }), pid > 0
        else { return nil }
        return pid
    }

    /// Whether a process exists and is not a zombie (a killed postmaster whose parent never
    /// reaps it stays in the process table as one).
    static func processExists(_ pid: Int) -> Bool {
        // Signal 0 checks that the process exists (EPERM means it exists but is not ours).
        guard kill(pid_t(pid), 0) == 0 || errno == EPERM else { return false }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // "pid (comm) S ...": the state letter follows the command name.
            let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
            return state != "Z" && state != "X"
        }
        return true
    }

    /// Whether the server accepts connections on its socket (`pg_isready`, 3 s at most).
    func answers() -> Bool {
        guard let binaries else { return false }
        let program = binaries.appending(path: "pg_isready").path
        guard FileManager.default.isExecutableFile(atPath: program) else { return false }
        let output = home.appending(path: "last-status.log").path
        let exit = try? Subprocess.run(
            [program, "-q", "-h", socketDirectory.path, "-p", "5432", "-t", "3"], outputPath: output)
        return exit?.status == 0
    }

    /// Removes the `postmaster.pid` a killed server left behind, when its process is gone or a
    /// zombie. (PostgreSQL itself refuses to start while the pid it names exists, which a zombie
    /// does; it still refuses while any of the old server's processes hold its shared memory.)
    func removeStalePIDFile() {
        guard let pid = postmasterPID(), !Self.processExists(pid) else { return }
        try? FileManager.default.removeItem(at: dataDirectory.appending(path: "postmaster.pid"))
    }

    /// Creates the cluster if needed, starts it if stopped, and makes sure its database exists.
    @discardableResult
    public func start() throws -> DatabaseConfiguration {
        try withLock { try startHoldingLock() }
        return configuration
    }

    /// `start` for a caller that holds the lock.
    func startHoldingLock() throws {
        if processState() == .notCreated { try create() }
        let changed = try writeAuthentication()
        if case .running = processState() {
            // Running already: read the authentication files again if they changed.
            if changed {
                try run("pg_ctl", ["-D", dataDirectory.path, "-s", "reload"], failure: "the embedded PostgreSQL did not reload its settings")
                Thread.sleep(forTimeInterval: 0.2)
            }
        } else {
            try startServer()
        }
        try createDatabaseIfMissing()
    }

    /// Starts the server (`pg_ctl start`), after a crash too: a stale `postmaster.pid` is
    /// removed first, and while the killed server's last processes are still exiting (they hold
    /// its shared memory, and PostgreSQL refuses to start until they are gone) it tries again
    /// for up to 15 s.
    func startServer() throws {
        let deadline = Date().addingTimeInterval(15)
        while true {
            removeStalePIDFile()
            let logStart = (try? FileManager.default.attributesOfItem(atPath: logFile.path)[.size] as? Int) ?? 0
            do {
                try run(
                    "pg_ctl",
                    ["-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s", "start"],
                    failure: "the embedded PostgreSQL did not start (see \(logFile.path))")
                return
            } catch let failure as Failure {
                // What this attempt wrote to the server log.
                let data = (try? Data(contentsOf: logFile)) ?? Data()
                let log = String(decoding: data.count > logStart ? data[logStart...] : Data(), as: UTF8.self)
                guard log.contains("is still in use") || log.contains("already exists"), Date() < deadline else { throw failure }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// Stops the cluster if it runs: a fast shutdown, else (a server that does not answer it
    /// within 60 s) an immediate one. A crashed server's stale `postmaster.pid` is removed.
    public func stop() throws {
        try withLock { try stopHoldingLock() }
    }

    /// `stop` for a caller that holds the lock.
    func stopHoldingLock() throws {
        switch processState() {
        case .crashed:
            removeStalePIDFile()
        case .running:
            do {
                try run(
                    "pg_ctl", ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "-s", "stop"],
                    failure: "the embedded PostgreSQL did not stop (see \(logFile.path))")
            } catch let failure as Failure {
                guard case .running = processState() else { return }
                do {
                    try run(
                        "pg_ctl", ["-D", dataDirectory.path, "-m", "immediate", "-w", "-t", "30", "-s", "stop"],
                        failure: "the embedded PostgreSQL did not stop (see \(logFile.path))")
                } catch {
                    throw failure
                }
            }
        default:
            return
        }
    }

    func create() throws {
        guard binaries != nil else { throw missingBinaries }
        try prepareDirectories()
        try run(
            "initdb",
            [
                "-D", dataDirectory.path, "-U", Self.superuser, "-E", "UTF8", "--locale=C.UTF-8",
                "--auth-local=peer", "--auth-host=reject",
            ],
            failure: "initdb could not create the embedded cluster in \(dataDirectory.path)")
        try appendSettings()
    }

    /// Makes the home, an empty data directory, the socket directory and the log file, owned by
    /// the server user when we are root.
    func prepareDirectories() throws {
        let manager = FileManager.default
        try manager.createDirectory(at: home, withIntermediateDirectories: true)
        try manager.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        try manager.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory.path)
        try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory.path)
        if !manager.fileExists(atPath: logFile.path) {
            _ = manager.createFile(atPath: logFile.path, contents: nil)
        }
        if let serverUser {
            // root: the home must be traversable by the server user, the rest owned by it.
            try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: home.path)
            for url in [dataDirectory, socketDirectory, logFile] {
                try manager.setAttributes([.ownerAccountName: serverUser], ofItemAtPath: url.path)
            }
        }
    }

    /// Appends Dossier's settings to `postgresql.conf` (later lines win, so appending them again
    /// after a restore points the server at this home's socket directory).
    func appendSettings() throws {
        // Unix socket only, in our own directory; sensible settings for a ledger on one machine.
        let settings = """
            # Written by dossier for its embedded cluster.
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory.path.replacingOccurrences(of: "'", with: "''"))'
            unix_socket_permissions = 0700
            max_connections = 100
            shared_buffers = 256MB
            max_wal_size = 4GB
            checkpoint_timeout = 15min
            log_min_messages = warning
            log_line_prefix = '%m [%p] '

            """
        let conf = dataDirectory.appending(path: "postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    /// Writes the cluster's authentication: Unix socket only; the operating-system user who owns
    /// the ledger logs in by peer authentication (as its own role, or as the superuser); every
    /// other person with their password (SCRAM-SHA-256), which is also how `dossier serve` checks
    /// a person's password. Returns whether anything changed.
    func writeAuthentication() throws -> Bool {
        let owner = Self.operatingSystemUser
        func quotedRole(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let hba = """
            # Written by dossier: Unix socket only. The owner asks the kernel who connects (peer);
            # everyone else gives their password.
            local all \(quotedRole(Self.superuser)),\(quotedRole(owner)) peer map=dossier
            local all all scram-sha-256
            # The owner's backups (pg_basebackup) log in for replication as the superuser.
            local replication \(quotedRole(Self.superuser)) peer map=dossier

            """
        let ident = """
            # Written by dossier. MAPNAME SYSTEM-USER DATABASE-ROLE
            dossier \(owner) \(Self.superuser)
            dossier /^(.*)$ \\1

            """
        var changed = false
        for (name, text) in [("pg_hba.conf", hba), ("pg_ident.conf", ident)] {
            let url = dataDirectory.appending(path: name)
            if (try? String(contentsOf: url, encoding: .utf8)) == text { continue }
            try Data(text.utf8).write(to: url)
            if let serverUser { try FileManager.default.setAttributes([.ownerAccountName: serverUser], ofItemAtPath: url.path) }
            changed = true
        }
        return changed
    }

    func createDatabaseIfMissing() throws {
        let connection = try PostgresConnection(connectionString: connectionString(user: Self.superuser).replacingOccurrences(
            of: "dbname=\(Self.databaseName)", with: "dbname=postgres"))
        // The operating-system user's login role (registered as an admin by `dossier init`).
        try connection.query(
            """
            SELECT set_config('dossier.login', \(Self.operatingSystemUser), false)
            """)
        try connection.executeScript(
            """
            DO $login$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = current_setting('dossier.login')) THEN
                    EXECUTE format('CREATE ROLE %I LOGIN', current_setting('dossier.login'));
                END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END
            $login$
            """)
        let exists = try connection.query(
            "SELECT 1 FROM pg_database WHERE datname = \(Self.databaseName)"
        ).rowCount > 0
        if !exists {
            do {
                try connection.execute("CREATE DATABASE dossier")
            } catch let error as PostgresError where error.sqlState == .duplicateDatabase {
                // Created meanwhile by another dossier: fine.
            }
        }
    }

    var missingBinaries: Failure {
        Failure(
            description: "the PostgreSQL server programs (initdb, pg_ctl, postgres) were not found; "
                + "install them (Debian/Ubuntu: apt install postgresql), set DOSSIER_PG_BIN to their "
                + "directory, or set DOSSIER_DATABASE_URL to use another PostgreSQL")
    }

    /// Runs a PostgreSQL program, as the server user when we are root (`asServer`), else as
    /// ourselves (client programs that log in by peer authentication as the owner).
    func run(_ program: String, _ arguments: [String], asServer: Bool = true, refused: Bool = false, failure: String) throws {
        guard let binaries else { throw missingBinaries }
        let executable = binaries.appending(path: program).path
        var argv: [String]
        if asServer, let serverUser {
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
            guard let runuser else {
                throw Failure(description: "\(failure): runuser (util-linux) is needed to run PostgreSQL as \(serverUser)")
            }
            argv = [runuser, "-u", serverUser, "--", executable] + arguments
        } else {
            argv = [executable] + arguments
        }
        // Output goes to a file, not a pipe: the server that pg_ctl starts inherits what it is
        // given and would keep a pipe open for as long as it runs.
        let outputPath = home.appending(path: "last-command.log").path
        let status = try Subprocess.run(argv, outputPath: outputPath).status
        guard status == 0 else {
            let text = ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
                .split(whereSeparator: \.isNewline).suffix(3).joined(separator: " / ")
            throw Failure(description: failure + (text.isEmpty ? "" : ": " + text), refused: refused)
        }
    }

    /// Holds an exclusive lock on `home/lock` while `body` runs, so two `dossier` processes
    /// never create or start the cluster at the same time.
    func withLock<T>(_ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let path = home.appending(path: "lock").path
        let descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else {
            throw Failure(description: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else {
            throw Failure(description: "cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
