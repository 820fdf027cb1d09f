import DossierStore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Opens and reads the files decisions come from, with limits counted in bytes and enforced while
/// reading: nothing unbounded (`/dev/zero`, a runaway pipe) is ever held whole in memory.
enum InputFile {
    /// The most `record` reads: it checks every decision before recording any, so it holds them all.
    /// Larger files are for `import`, which streams.
    static let recordLimit = 16 << 20

    /// Opens `path` for reading (`-` is standard input). A named pipe or process substitution
    /// (`<(…)`) reads like a file; a directory, a missing file or one that may not be read is
    /// refused with what is wrong.
    static func open(_ path: String) throws -> FileHandle {
        if path == "-" { return FileHandle.standardInput }
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason: String
            switch errno {
            case ENOENT: reason = "no such file"
            case EACCES, EPERM: reason = "permission denied"
            case ENOTDIR: reason = "a part of the path is not a directory"
            default: reason = String(cString: strerror(errno))
            }
            throw UserError(description: "cannot read \(path): \(reason)")
        }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            close(descriptor)
            throw UserError(description: "cannot read \(path): it is a directory; give a file of decisions (JSON Lines)")
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Reads all of `path`, refusing it once it passes `limit` bytes (having read no more than
    /// that; a regular file larger than the limit is refused by its size, before any byte is read).
    static func readAll(_ path: String, limit: Int, purpose: String) throws -> Data {
        let handle = try open(path)
        func tooLarge() -> UserError {
            let size = limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit >> 10) KiB"
            return UserError(
                description: "\(path == "-" ? "standard input" : path) is larger than \(size): \(purpose) reads at most \(size)"
                    + (purpose == "record" ? " (nothing was recorded); `dossier import` takes files of any length" : ""))
        }
        var status = stat()
        if fstat(handle.fileDescriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) > limit {
            throw tooLarge()
        }
        var data = Data()
        while true {
            let more: Data
            do {
                more = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw UserError(description: "cannot read \(path): \(error.localizedDescription)")
            }
            if more.isEmpty { return data }
            data.append(more)
            if data.count > limit { throw tooLarge() }
        }
    }
}
