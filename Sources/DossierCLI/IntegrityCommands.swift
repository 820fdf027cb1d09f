import ArgumentParser
import DossierDomain
import DossierStore
import Foundation
import PostgresClient

/// Where the checkpoint signing key lives, and how to load it.
struct KeyOptions: ParsableArguments {
    @Option(name: .customLong("key"), help: "The checkpoint signing key file (default: DOSSIER_CHECKPOINT_KEY, else checkpoint.key in DOSSIER_HOME).")
    var keyFile: String?

    var path: String {
        if let keyFile { return keyFile }
        if let path = ProcessInfo.processInfo.environment["DOSSIER_CHECKPOINT_KEY"], !path.isEmpty { return path }
        return EmbeddedCluster().home.appending(path: "checkpoint.key").path
    }

    /// Loads the signing key, creating it on first use when `create`: mode 0600 from its first
    /// byte (written to a temporary file opened `O_CREAT|O_EXCL` with that mode, then linked to its
    /// name, which fails if another process made the key meanwhile: then that key is loaded, so
    /// two first checkpoints at once end with one key). A key file others may read or change is
    /// refused for `signing` ("run chmod 600"), and only warned about when its public half is all
    /// that is needed (verify, export): verifying keeps nothing secret.
    func signingKey(create: Bool, name: String, signing: Bool = true) throws -> SigningKey {
        if let key = try Self.loadKey(path, signing: signing) { return key }
        guard create else { throw UserError(description: "no checkpoint key at \(path): run `dossier checkpoint` first, or give --public-key") }
        let key = SigningKey(name: name)
        let directory = URL(filePath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw UserError(description: "cannot create the directory \(directory.path) for the checkpoint key: \(error.localizedDescription)")
        }
        let text = Array(key.fileText.utf8)
        let temporary = try OutputFile.writeTemporary(text, beside: path, mode: 0o600, named: path)
        if link(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            if code == EEXIST, let existing = try Self.loadKey(path, signing: signing) { return existing }
            // A file system without hard links: create the key in place, O_EXCL, mode 0600.
            guard [EPERM, ENOTSUP, EOPNOTSUPP, EMLINK, ENOSYS].contains(code) else { throw OutputFile.failure(path, code) }
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                if errno == EEXIST, let existing = try Self.loadKey(path, signing: signing) { return existing }
                throw OutputFile.failure(path, errno)
            }
            do {
                guard fchmod(descriptor, 0o600) == 0 else { throw OutputFile.failure(path, errno) }
                try OutputFile.writeAll(text, to: descriptor, path: path)
                guard fsync(descriptor) == 0 else { throw OutputFile.failure(path, errno) }
                close(descriptor)
            } catch {
                close(descriptor)
                unlink(path)
                throw error
            }
        } else {
            unlink(temporary)
        }
        OutputFile.syncDirectory(of: path)
        do {
            try OutputFile.write(Array((key.verifying.text + "\n").utf8), to: path + ".pub", force: true, mode: 0o644)
        } catch {
            CLI.printError("warning: \(error); the public key is \(key.verifying.text)")
        }
        CLI.printError("created checkpoint key \(path) (mode 0600; public key in \(path).pub; keep a copy outside the ledger)")
        return key
    }

    /// The key in the file at `path`, nil when there is none. A file still being written by a
    /// process that created it in place (no final newline yet) is read again for up to 2 s.
    static func loadKey(_ path: String, signing: Bool) throws -> SigningKey? {
        var attempts = 0
        while true {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                switch errno {
                case ENOENT: return nil
                case EACCES, EPERM: throw UserError(description: "cannot read the checkpoint key \(path): permission denied")
                default: throw UserError(description: "cannot read the checkpoint key \(path): \(String(cString: strerror(errno)))")
                }
            }
            defer { close(descriptor) }
            var status = stat()
            guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
                throw UserError(description: "\(path) is not a dossier checkpoint key (not a regular file)")
            }
            let mode = status.st_mode & 0o777
            if mode & 0o077 != 0 {
                let octal = String(mode, radix: 8)
                let message = "the signing key \(path) is \(mode & 0o044 != 0 ? "readable" : "writable") by others "
                    + "(mode \(String(repeating: "0", count: 4 - octal.count) + octal)): run chmod 600 \(path)"
                if signing { throw UserError(description: message + " (and make a new key if someone else may have read it)") }
                CLI.printError("warning: " + message)
            }
            var bytes = [UInt8](repeating: 0, count: 64 * 1024)
            let count = read(descriptor, &bytes, bytes.count)
            guard count >= 0 else { throw UserError(description: "cannot read the checkpoint key \(path): \(String(cString: strerror(errno)))") }
            let text = String(decoding: bytes[..<count], as: UTF8.self)
            // Every key file ends with a newline: without it, another process may be writing it
            // right now (only where keys are created in place); read it again for up to 2 s.
            let young = time(nil) - status.st_mtim.tv_sec < 5
            if !text.hasSuffix("\n"), young, attempts < 40 {
                attempts += 1
                usleep(50_000)
                continue
            }
            if let key = SigningKey(fileText: text) { return key }
            throw UserError(description: "\(path) is not a dossier checkpoint key")
        }
    }

    /// The name of a new signing key for a database: `dossier-` and the database's name, with
    /// every character a key name cannot hold (space, `+`, controls: the note and key formats split
    /// on them) replaced by `-`.
    static func keyName(database: String) -> String {
        "dossier-" + String(database.unicodeScalars.map { scalar in
            scalar.properties.isWhitespace || scalar == "+" || scalar.value < 0x20 || scalar.properties.generalCategory == .format
                ? "-" : Character(scalar)
        })
    }

    /// The key that checks checkpoints: --public-key, else the signing key's public half.
    func verifyingKey(publicKey: String?) throws -> VerifyingKey? {
        if let publicKey {
            guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8), let key = VerifyingKey(text: text) else {
                throw UserError(description: "\(publicKey) is not a dossier public key (name+keyid+base64)")
            }
            return key
        }
        return try? signingKey(create: false, name: "", signing: false).verifying
    }
}

extension Dossier {
    /// Signs the tree head of the log.
    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint",
            abstract: "Extend the Merkle tree over the log and sign its head (size, root, time) with the Ed25519 key.",
            discussion: "Prints the checkpoint in the text format of transparency logs; keep copies outside the ledger.")

        @OptionGroup var key: KeyOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                guard let note = try await Self.sign(key: key, database: database, create: true) else {
                    return CLI.print(IntegrityError.emptyLog.description)
                }
                CLI.print(note, terminator: "")
            }
        }

        /// Extends the tree and signs its head with the key (created on first use when `create`),
        /// showing progress on a terminal; nil when the log is empty (nothing to sign).
        static func sign(key: KeyOptions, database: DatabaseOptions, create: Bool) async throws -> String? {
            let session = PostgresSession.open(try database.configuration(), role: .person, label: "dossier.checkpoint")
            let origin = try await session.run { try $0.query("SELECT current_database()").scalar(String.self) ?? "ledger" }
            let signing = try key.signingKey(create: create, name: KeyOptions.keyName(database: origin))
            let progress = ProgressLine()
            defer { progress.finish() }
            do {
                return try await session.run { connection in
                    try Integrity.checkpoint(connection, key: signing, progress: { progress.update($0, done: $1, total: $2) })
                }
            } catch IntegrityError.emptyLog {
                return nil
            }
        }
    }

    /// Checks that the log is intact.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every leaf hash and the tree from the rows and check every signed checkpoint; exit 4 on any mismatch.")

        @Option(name: .customLong("checkpoint"), help: "A checkpoint file kept outside the ledger (repeatable).")
        var checkpoints: [String] = []

        @Option(
            name: .customLong("consistency"),
            help: "A consistency proof kept outside (`dossier prove --from A --to N` output; repeatable): proves the log's first A events are the first A of checkpoint N.")
        var consistency: [String] = []

        @Option(name: .customLong("public-key"), help: "The public key to trust (default: the signing key's).")
        var publicKey: String?

        @OptionGroup var key: KeyOptions
        @OptionGroup var database: DatabaseOptions

        /// Names a checkpoint file or proof by its path instead of its place on the command line.
        func named(_ label: String) -> String {
            for (prefix, paths) in [("checkpoint file ", checkpoints), ("consistency proof ", consistency)] {
                for (offset, path) in paths.enumerated().reversed() {
                    let text = prefix + String(offset + 1)
                    if let range = label.range(of: text) { return label.replacingCharacters(in: range, with: prefix + path) }
                }
            }
            return label
        }

        func run() async throws {
            try await CLI.run {
                // Any role verifies; admins also check the personal-data commitments.
                let configuration = try database.readConfiguration()
                let session = PostgresSession.open(configuration, role: .person, label: "dossier.verify")
                var trusted = try key.verifyingKey(publicKey: publicKey)
                if trusted == nil {
                    trusted = try await session.run { try Integrity.storedVerifyingKey($0) }
                    if trusted != nil {
                        CLI.printError("warning: trusting the public key stored in the database; give --public-key to check against your own copy")
                    }
                }
                let external = try checkpoints.map { path -> String in
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw UserError(description: "cannot read the checkpoint file \(path)")
                    }
                    return text
                }
                let proofs = try consistency.map { path -> String in
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                        throw UserError(description: "cannot read the consistency proof \(path)")
                    }
                    return text
                }
                let progress = ProgressLine()
                let report = try await session.run { connection -> Integrity.Verification in
                    guard let trusted else {
                        let stored = try connection.query("SELECT count(*) FROM dossier.checkpoints").scalar(Int64.self) ?? 0
                        if stored > 0 || !external.isEmpty || !proofs.isEmpty {
                            throw UserError(description: "no public key to check the checkpoints with: give --public-key", exit: Exit.integrity)
                        }
                        return try Integrity.verify(connection, key: SigningKey(name: "none").verifying, progress: { progress.update($0, done: $1, total: $2) })
                    }
                    return try Integrity.verify(
                        connection, key: trusted, external: external, consistency: proofs, progress: { progress.update($0, done: $1, total: $2) })
                }
                progress.finish()
                let rate = Double(report.events) / max(report.seconds, 0.000_001)
                if let mismatch = report.mismatch {
                    CLI.printError("verification FAILED after \(report.events) events: \(named(mismatch.description))")
                    throw Exit.integrity
                }
                if let shortfall = report.shortfall {
                    CLI.print(
                        "verified \(report.events) events against \(report.checkpoints) stored and \(report.externalCheckpoints) given "
                            + "checkpoints and \(report.consistencyProofs) consistency proofs: intact as far as the log goes")
                    CLI.printError(Dossier.explainShortfall(shortfall, named: named))
                    throw Exit.missingEvents
                }
                CLI.print(
                    "verified \(report.events) events against \(report.checkpoints) stored and \(report.externalCheckpoints) given checkpoints, "
                        + (report.onStandby
                            ? "personal data not checked (on the standby, where its logged read cannot be written)"
                            : report.personalReadable
                                ? "\(report.personalChecked) personal-data commitments" : "personal data not checked (this role may not read it)")
                        + (report.nodesChecked > 0 ? ", \(report.nodesChecked) stored tree nodes" : "")
                        + ": intact (\(String(format: "%.2f", report.seconds)) s, \(Int(rate)) events/s)"
                        + (report.uncovered > 0 ? "; \(report.uncovered) events after the last checkpoint are not covered yet (run `dossier checkpoint`)" : "")
                        + (configuration.label == DatabaseOptions.standbyLabel ? " [read on the standby]" : ""))
            }
        }
    }

    /// What `verify` says when a checkpoint kept outside covers events the ledger does not hold:
    /// how many are missing, what is proven about the events it holds, and what is not.
    static func explainShortfall(_ shortfall: Integrity.Shortfall, named: (String) -> String) -> String {
        let (n, m) = (shortfall.checkpointSize, shortfall.logSize)
        var text = "EVENTS MISSING: \(named(shortfall.label)) covers \(n) events and this ledger holds \(m): the last \(shortfall.missing) "
            + "recorded events are not here (a restore from a backup older than that checkpoint loses what was recorded after "
            + "the backup; otherwise they were removed)."
        text += "\n  Proven: the \(m) events here are intact"
            + (shortfall.latestMatched > 0
                ? ": they reproduce the signed root of every checkpoint of \(m) events or fewer (the latest of \(shortfall.latestMatched) events)."
                : " as far as they can be checked (no checkpoint of \(m) events or fewer was given or stored).")
        if let prefix = shortfall.provenPrefix, let proof = shortfall.proofLabel {
            text += "\n  Proven by \(named(proof)): the first \(prefix) events here are the first \(prefix) of the \(n) signed in "
                + "\(named(shortfall.label))" + (prefix == m ? ", so this ledger is a prefix of that log." : ".")
            if prefix < m {
                text += "\n  Not proven: that events \(prefix + 1) to \(m) here are among the \(n) (they may have been recorded after the "
                    + "restore, and then differ from what was lost)."
            }
        } else {
            text += "\n  Not proven: that these \(m) events are the first \(m) of the \(n) signed in \(named(shortfall.label)): that needs the "
                + "tree of the missing events, which this ledger does not have. Give --consistency FILE with the output of "
                + "`dossier prove --from \(shortfall.latestMatched > 0 ? shortfall.latestMatched : m) --to \(n)` kept from the ledger "
                + "before the loss to prove it."
        }
        return text
    }

    /// Prints an inclusion or consistency proof.
    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an inclusion proof of EVENT against a checkpoint, or a consistency proof between two checkpoints (JSON).")

        @Argument(help: "The event id to prove.") var event: String?
        @Option(help: "The checkpoint size to prove against (default: the latest).") var size: Int?
        @Option(help: "Consistency proof: the older checkpoint size.") var from: Int?
        @Option(help: "Consistency proof: the newer checkpoint size.") var to: Int?
        @OptionGroup var key: KeyOptions
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if (from == nil) != (to == nil) { throw ValidationError("--from and --to go together") }
            if (event == nil) == (from == nil) { throw ValidationError("give an EVENT id, or --from SIZE --to SIZE") }
            if let event, UUID(uuidString: event) == nil { throw ValidationError("\"\(event)\" is not an event id (a UUID)") }
        }

        func run() async throws {
            try await CLI.run {
                let session = PostgresSession.open(try database.configuration(), role: .person, label: "dossier.prove")
                // The checkpoint's signature is checked with the signing key's public half when this
                // machine has it, else with the key the ledger says it signs with.
                var verifying = (try? key.verifyingKey(publicKey: nil)) ?? nil
                if verifying == nil { verifying = try await session.run { try Integrity.storedVerifyingKey($0) } }
                let object = try await session.run { connection -> JSONObject in
                    if let from, let to { return try Integrity.consistencyProof(connection, from: from, to: to) }
                    return try Integrity.inclusionProof(connection, eventID: UUID(uuidString: event!)!, size: size, key: verifying).json
                }
                CLI.print(JSONValue.object(object).prettyText())
            }
        }
    }

    /// Writes a worker's record as a bundle that verifies offline, and with `--report` a document
    /// a person reads and prints beside it.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a worker's whole record, with inclusion proofs, the signed checkpoint and the public key, to a bundle.",
            discussion: """
                --report FILE.html also writes the record as a document a person reads and prints (zh-CN, A4): the record on \
                --as-of (default today) as known now and, with --known-at, as known then; every decision with its corrections, \
                rescissions and rulings; eligibility with reasons; and how to verify the bundle offline (its SHA-256 and checkpoint).
                """)

        @Argument(help: "The worker (or cadre) id.") var worker: String
        @Option(help: "The bundle file to write (mode 0600: it holds names and their salts).") var to: String
        @Flag(help: "Replace the bundle file (and the report file) if it exists.") var force = false
        @Option(
            name: .customLong("since-checkpoint"),
            help: "A checkpoint file kept earlier: the bundle carries the proof that its tree extends that one (repeatable).")
        var sinceCheckpoints: [String] = []
        @Flag(help: "Make a checkpoint first when the latest does not cover the record (needs the signing key and the admin role).")
        var checkpoint = false
        @Option(help: "Also write the record as a self-contained HTML document to read and print (mode 0600), naming the bundle and its SHA-256.")
        var report: String?
        @Option(name: .customLong("as-of"), help: "With --report: the date the record is stated for (YYYY-MM-DD; default today).")
        var asOf: String?
        @Option(
            name: .customLong("known-at"),
            help: "With --report: also state the record as it was known at this time (YYYY-MM-DD or ISO 8601 time), beside as known now.")
        var knownAt: String?
        @OptionGroup var key: KeyOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                if report == nil {
                    for (option, value) in [("--as-of", asOf), ("--known-at", knownAt)] where value != nil {
                        throw UserError(description: "\(option) goes with --report FILE.html (it says which record the report states): add --report, or leave \(option) out")
                    }
                }
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") }
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                try OutputFile.check(to, force: force)
                if let report {
                    guard !OutputFile.sameFile(to, report) else {
                        throw UserError(
                            description: "--report \(report) is the same file as --to \(to): give the report a name of its own, such as "
                                + "\(Self.reportName(for: to))")
                    }
                    try OutputFile.check(report, force: force)
                }
                let since = try sinceCheckpoints.map { path in
                    String(decoding: try InputFile.readAll(path, limit: 64 * 1024, purpose: "checkpoint"), as: UTF8.self)
                }
                if checkpoint {
                    // With the ledger's own key only: a key made here would sign a checkpoint no one trusts.
                    _ = try await CheckpointCommand.sign(key: key, database: database, create: false)
                }
                let (bundle, verifying) = try await CLI.reading(database) { configuration in
                    let session = PostgresSession.open(configuration, role: .person, label: "dossier.export")
                    var verifying = try key.verifyingKey(publicKey: nil)
                    if verifying == nil {
                        verifying = try await session.run { try Integrity.storedVerifyingKey($0) }
                    }
                    guard let verifying else { throw UserError(description: "no checkpoint key: run `dossier checkpoint` first") }
                    return (try await session.run { try Integrity.exportBundle($0, subject: worker, key: verifying, since: since) }, verifying)
                }
                let bytes = Array(JSONValue.object(bundle).prettyText().utf8)
                // The report is made before anything is written: a refusal leaves no file behind.
                var document: RecordReport?
                if report != nil {
                    document = try await Self.document(
                        worker: worker, bundle: bytes, bundleName: Self.fileName(to), key: verifying, asOf: date, knownAt: time,
                        database: database)
                }
                try OutputFile.write(bytes, to: to, force: force)
                let events = bundle["events"].map { if case .array(let list) = $0 { list.count } else { 0 } } ?? 0
                CLI.print("wrote \(to): \(events) events of \(worker) with their proofs")
                if let report, let document {
                    do {
                        try OutputFile.write(Array(document.html.utf8), to: report, force: force)
                    } catch {
                        throw UserError(description: "\(error) (the bundle \(to) was written)")
                    }
                    CLI.print(
                        "wrote \(report): the record of \(worker) on \(document.asOf.map(\.description) ?? "—")"
                            + (document.known?.knownAt.map { " as known now and as known at \($0)" } ?? " as known now")
                            + ", \(document.trace.count) decisions; bundle SHA-256 \(document.bundle?.sha256 ?? "—")")
                }
            }
        }

        /// The last component of a path (what the person receiving both files sees).
        static func fileName(_ path: String) -> String {
            path.split(separator: "/").last.map(String.init) ?? path
        }

        /// A report name to suggest beside the bundle `path`.
        static func reportName(for path: String) -> String {
            (path.hasSuffix(".json") ? String(path.dropLast(5)) : path) + ".html"
        }

        /// Gathers what the report states, as the logged-in person may read it (each read logged,
        /// as `show` and `trace` log theirs), and checks the bundle it describes.
        static func document(
            worker: String, bundle bytes: [UInt8], bundleName: String, key: VerifyingKey, asOf: CalendarDate?, knownAt: Timestamp?,
            database: DatabaseOptions
        ) async throws -> RecordReport {
            let verified: EvidenceBundle.Verified
            do {
                verified = try EvidenceBundle.verify(bytes, trustedKey: key)
            } catch {
                throw UserError(description: "the bundle just made does not verify (\(error)); nothing was written", exit: Exit.integrity)
            }
            let facts = RecordReport.Bundle(fileName: bundleName, bytes: bytes, verified: verified)
            let generatedAt = Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
            return try await CLI.reading(database) { configuration in
                let ledger = Ledger(configuration, primary: try database.primary(behind: configuration))
                let reader = try await ledger.session.run { try Ledger.currentActor($0) }
                let trace = try await ledger.trace(subject: worker)
                var current: WorkerReport?
                var known: WorkerReport?
                if trace.stream.kind == "worker" {
                    current = try await ledger.show(worker: worker, asOf: asOf, knownAt: nil)
                    if let knownAt { known = try await ledger.show(worker: worker, asOf: current!.asOf, knownAt: knownAt) }
                }
                // The report and the bundle must tell of the same events.
                let inBundle = Set(facts.eventIDs)
                if let extra = trace.entries.first(where: { $0.event.stream == facts.stream && !inBundle.contains($0.event.eventID) }) {
                    throw UserError(
                        description: "the record of \(worker) changed while the report was being made (event at position "
                            + "\(extra.event.position) is not in the bundle): run the command again; nothing was written")
                }
                return RecordReport(
                    subject: worker, stream: trace.stream, current: current, known: known, trace: trace.entries,
                    personal: current?.personal ?? trace.personal, reader: RecordReport.Reader(name: reader.name, role: reader.role),
                    generatedAt: generatedAt, bundle: facts, ledger: verified.checkpoint.origin)
            }
        }
    }

    /// Checks a bundle with no database.
    struct VerifyBundle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-bundle",
            abstract: "Check an exported bundle offline: signature, inclusion proofs, completeness and personal data.")

        @Argument(help: "The bundle file.") var file: String
        @Option(name: .customLong("public-key"), help: "Only accept bundles signed by this key.") var publicKey: String?
        @Flag(
            name: .customLong("accept-format-1"),
            help: "Also check bundles of format dossier-bundle/1 (before stream heads were signed): their events, not their completeness.")
        var acceptFormat1 = false

        func run() async throws {
            try await CLI.run {
                var trusted: VerifyingKey?
                if let publicKey {
                    guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8), let key = VerifyingKey(text: text) else {
                        throw UserError(description: "\(publicKey) is not a dossier public key (name+keyid+base64)")
                    }
                    trusted = key
                }
                let data = try InputFile.readAll(file, limit: EvidenceBundle.maximumBytes, purpose: "bundle")
                do {
                    let verified = try EvidenceBundle.verify([UInt8](data), trustedKey: trusted, acceptFormat1: acceptFormat1)
                    CLI.print(
                        "bundle verified: \(verified.events.count) events of \(verified.stream) are in the tree of \(verified.checkpoint.size) "
                            + "events signed by \(verified.key.name) at \(verified.checkpoint.time)"
                            + (verified.complete
                                ? ", and they are the whole record: the checkpoint signs version \(verified.events.count) as the stream's last"
                                : "; NOT proven complete (format \(EvidenceBundle.formatWithoutHeads) does not sign where a stream ends)")
                            + "; \(verified.personalVerified) personal-data commitments opened"
                            + verified.linked.map { "; extends the checkpoint of \($0.size) events signed at \($0.time)" }.joined()
                            + (trusted == nil ? " (signature checked with the key in the bundle; give --public-key to pin it)" : ""))
                } catch {
                    CLI.printError("bundle REFUSED: \(error)")
                    throw Exit.integrity
                }
            }
        }
    }
}
