import DossierStore
import Foundation

/// Runs the built `dossier` binary, as a user would, and captures what it prints.
public struct CommandRunner {
    public struct Result {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public var environment: [String: String]

    /// A runner pointed at a database (DOSSIER_DATABASE_URL).
    public init(database: DatabaseConfiguration?) {
        var environment = ProcessInfo.processInfo.environment
        environment["DOSSIER_DATABASE_URL"] = database?.connectionString
        self.environment = environment
    }

    /// The directory holding the built executables (tools/test sets DOSSIER_TEST_BIN).
    public static func binDirectory() -> URL {
        if let bin = ProcessInfo.processInfo.environment["DOSSIER_TEST_BIN"], !bin.isEmpty {
            return URL(filePath: bin, directoryHint: .isDirectory)
        }
        var root = URL(filePath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appending(path: ".build/debug")
    }

    /// Writes a sample district with the built `dossier-sample` and returns the file's path.
    public static func sample(seed: Int, workers: Int, from: Int, to: Int, districts: Int = 1) throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "sample-\(UUID().uuidString).jsonl").path
        let generator = Process()
        generator.executableURL = binDirectory().appending(path: "dossier-sample")
        generator.arguments = [
            "--seed", String(seed), "--workers", String(workers), "--from", String(from), "--to", String(to),
            "--districts", String(districts), "--output", path,
        ]
        generator.standardError = FileHandle.nullDevice
        try generator.run()
        generator.waitUntilExit()
        guard generator.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return path
    }

    /// Runs `dossier` with `arguments`, `input` on standard input, and (when given) the file
    /// mode creation mask `umask` (octal, e.g. "000"), set by a shell that then execs dossier.
    public func run(_ arguments: [String], input: String? = nil, umask: String? = nil) throws -> Result {
        let process = Process()
        let dossier = Self.binDirectory().appending(path: "dossier")
        if let umask {
            process.executableURL = URL(filePath: "/bin/sh")
            process.arguments = ["-c", "umask \(umask); exec \"$0\" \"$@\"", dossier.path] + arguments
        } else {
            process.executableURL = dossier
            process.arguments = arguments
        }
        process.environment = environment
        let out = FileManager.default.temporaryDirectory.appending(path: "dossier-out-\(UUID().uuidString)")
        let err = FileManager.default.temporaryDirectory.appending(path: "dossier-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let inputFile = FileManager.default.temporaryDirectory.appending(path: "dossier-in-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: inputFile.path, contents: Data(input.utf8))
            process.standardInput = try FileHandle(forReadingFrom: inputFile)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Writes text to a temporary file and returns its path.
    public static func file(_ text: String) -> String {
        let url = FileManager.default.temporaryDirectory.appending(path: "dossier-\(UUID().uuidString).jsonl")
        FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8))
        return url.path
    }
}
