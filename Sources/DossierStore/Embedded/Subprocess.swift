import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program to completion with posix_spawn and wait4, its output sent to a file.
///
/// Foundation's `Process` is avoided here: its exit monitoring can stall when the program
/// leaves a daemon behind (as `pg_ctl start` does), and a plain wait is all that is needed.
public enum Subprocess {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// How a program ended.
    public struct Exit: Sendable {
        /// The exit status (128 + signal number when killed by a signal).
        public var status: Int32
        /// The child's peak resident set size in KiB as the kernel counts it (which includes
        /// pages shared with the parent between spawn and exec).
        public var peakKilobytes: Int
    }

    /// Runs `argv` (an absolute path first) with standard input from /dev/null and standard
    /// output and error to `outputPath`, in `environment` (this process's when nil).
    public static func run(_ argv: [String], outputPath: String, environment: [String: String]? = nil) throws -> Exit {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnvironment: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            cArguments.forEach { free($0) }
            cEnvironment?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = cEnvironment == nil
            ? posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
            : posix_spawn(&pid, argv[0], &actions, nil, &cArguments, &cEnvironment!)
        guard spawned == 0 else {
            throw Failure(description: "cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else {
                throw Failure(description: "waiting for \(argv[0]) failed: \(String(cString: strerror(errno)))")
            }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros in C).
        let signal = status & 0x7f
        return Exit(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, peakKilobytes: usage.ru_maxrss)
    }
}
