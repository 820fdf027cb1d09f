import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Backups of the embedded cluster with PostgreSQL's own programs.
///
/// A backup is `pg_basebackup` of the whole cluster in plain format with the WAL it needs
/// (`-Fp -X stream`), checked with `pg_verifybackup`: every database and every role (the ledger's
/// owner, people's login roles, the gateway) exactly as they were at the end of the backup. A
/// restore checks the backup the same way, keeps the data it replaces beside it, copies the
/// backup in, and starts the server, which replays the backup's WAL.
extension EmbeddedCluster {
    /// What `backup` did.
    public struct BackupReport: Sendable {
        public var directory: String
        public var bytes: Int64
    }

    /// What `restore` did.
    public struct RestoreReport: Sendable {
        /// Where the data that was replaced was moved (nil when there was none).
        public var replacedDataKeptIn: String?
        /// Whether a running server was stopped first.
        public var stoppedServer: Bool
    }

    /// Backs up the whole cluster to `directory`, which must not exist or be empty; starts the
    /// cluster if it is stopped. Nothing is left in `directory` when the backup fails.
    public func backup(to directory: String) throws -> BackupReport {
        let manager = FileManager.default
        let target = URL(filePath: directory, directoryHint: .isDirectory).standardizedFileURL
        var isDirectory: ObjCBool = false
        let existed = manager.fileExists(atPath: target.path, isDirectory: &isDirectory)
        if existed {
            guard isDirectory.boolValue else {
                throw Failure(description: "\(directory) is a file: give a new or empty directory for the backup", refused: true)
            }
            guard (try manager.contentsOfDirectory(atPath: target.path)).isEmpty else {
                throw Failure(description: "\(directory) is not empty: give a new or empty directory for the backup (nothing was written)", refused: true)
            }
        } else {
            var parentIsDirectory: ObjCBool = false
            guard manager.fileExists(atPath: target.deletingLastPathComponent().path, isDirectory: &parentIsDirectory),
                parentIsDirectory.boolValue
            else {
                throw Failure(description: "cannot back up to \(directory): its parent directory does not exist", refused: true)
            }
        }
        guard processState() != .notCreated else {
            throw Failure(description: "there is no embedded database in \(home.path) to back up (nothing was written)", refused: true)
        }
        try start()
        func removeAttempt() {
            if existed {
                for name in (try? manager.contentsOfDirectory(atPath: target.path)) ?? [] {
                    try? manager.removeItem(at: target.appending(path: name))
                }
            } else {
                try? manager.removeItem(at: target)
            }
        }
        do {
            try run(
                "pg_basebackup",
                [
                    "-h", socketDirectory.path, "-p", "5432", "-U", Self.superuser, "--no-password",
                    "-D", target.path, "-Fp", "-X", "stream", "--checkpoint=fast",
                    "--label=dossier backup \(ISO8601DateFormatter().string(from: Date()))",
                ],
                asServer: false, failure: "pg_basebackup could not back up the embedded database (nothing was kept)")
            try run(
                "pg_verifybackup", [target.path], asServer: false,
                failure: "the backup in \(directory) does not verify (it was removed)")
        } catch {
            removeAttempt()
            throw error
        }
        return BackupReport(directory: target.path, bytes: Self.size(of: target))
    }

    /// Replaces the cluster's data with the backup in `directory`. Refuses, changing nothing,
    /// when `directory` is not a backup that `pg_verifybackup` accepts, was made by another
    /// major version of PostgreSQL, or (without `force`) when the cluster holds data. With
    /// `force`, stops a running server and moves the data it replaces to
    /// `pgdata.replaced-TIME` in the home; then starts the restored cluster.
    public func restore(from directory: String, force: Bool) throws -> RestoreReport {
        let manager = FileManager.default
        let source = URL(filePath: directory, directoryHint: .isDirectory).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: source.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure(description: "\(directory) does not exist or is not a directory: give the directory `dossier db backup` wrote", refused: true)
        }
        guard ["PG_VERSION", "backup_label", "backup_manifest"].allSatisfy({ manager.fileExists(atPath: source.appending(path: $0).path) })
        else {
            throw Failure(
                description: "\(directory) is not a backup made by `dossier db backup` (no PG_VERSION, backup_label and "
                    + "backup_manifest); nothing was changed", refused: true)
        }
        let backupVersion = ((try? String(contentsOf: source.appending(path: "PG_VERSION"), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if let binaries, let serverVersion = Int(binaries.deletingLastPathComponent().lastPathComponent),
            String(serverVersion) != backupVersion
        {
            throw Failure(
                description: "\(directory) is a backup of PostgreSQL \(backupVersion) and this machine runs PostgreSQL "
                    + "\(serverVersion): restore it with PostgreSQL \(backupVersion) (nothing was changed)", refused: true)
        }
        try run(
            "pg_verifybackup", [source.path], asServer: false,
            refused: true, failure: "\(directory) does not verify as a backup (nothing was changed)")

        return try withLock {
            let state = processState()
            let hasData = state != .notCreated
                || ((try? manager.contentsOfDirectory(atPath: dataDirectory.path)) ?? []).isEmpty == false
            if hasData && !force {
                let running: Bool
                if case .running = state { running = true } else { running = false }
                throw Failure(
                    description: "the embedded database in \(home.path) holds data\(running ? " and is running" : ""): "
                        + "restoring replaces all of it; give --force to stop it and restore (the data it replaces is "
                        + "kept in \(home.path)/pgdata.replaced-TIME)", refused: true)
            }
            var report = RestoreReport(replacedDataKeptIn: nil, stoppedServer: false)
            if case .running = state {
                try stopHoldingLock()
                report.stoppedServer = true
            } else if case .notAnswering = state {
                try stopHoldingLock()
                report.stoppedServer = true
            }
            removeStalePIDFile()
            if manager.fileExists(atPath: dataDirectory.path) {
                if hasData {
                    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                    let aside = home.appending(path: "pgdata.replaced-\(stamp)")
                    try manager.moveItem(at: dataDirectory, to: aside)
                    report.replacedDataKeptIn = aside.path
                } else {
                    try manager.removeItem(at: dataDirectory)
                }
            }
            do {
                try prepareDirectories()
                try manager.removeItem(at: dataDirectory)
                try manager.copyItem(at: source, to: dataDirectory)
                // The manifest describes the backup, not a data directory.
                try? manager.removeItem(at: dataDirectory.appending(path: "backup_manifest"))
                try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dataDirectory.path)
                if let serverUser { try Self.changeOwner(of: dataDirectory, to: serverUser) }
                try appendSettings()
                try startHoldingLock()
            } catch {
                // Put back what was there, as it was.
                if let aside = report.replacedDataKeptIn {
                    try? manager.removeItem(at: dataDirectory)
                    try? manager.moveItem(atPath: aside, toPath: dataDirectory.path)
                    if report.stoppedServer { try? startServer() }
                }
                throw Failure(
                    description: "the restore of \(directory) failed, and the data that was there was put back: \(error)")
            }
            return report
        }
    }

    /// The total size of the regular files under `url`.
    static func size(of url: URL) -> Int64 {
        var total: Int64 = 0
        let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
        while let file = enumerator?.nextObject() as? URL {
            if let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey]), values.isRegularFile == true {
                total += Int64(values.fileSize ?? 0)
            }
        }
        return total
    }

    /// `chown -R user` (without following symbolic links).
    static func changeOwner(of url: URL, to user: String) throws {
        guard let entry = getpwnam(user) else { throw Failure(description: "no user \(user) to own the restored data") }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        var paths = [url.path]
        let enumerator = FileManager.default.enumerator(atPath: url.path)
        while let relative = enumerator?.nextObject() as? String { paths.append(url.appending(path: relative).path) }
        for path in paths where lchown(path, uid, gid) != 0 {
            throw Failure(description: "cannot give \(path) to \(user): \(String(cString: strerror(errno)))")
        }
    }
}
