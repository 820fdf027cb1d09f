import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The files `dossier` writes where the user says (`export --to`, `import --rejects`, the
/// checkpoint key): created mode 0600 from the first byte, written whole or not at all, and never
/// replacing a file the user did not ask to replace.
///
/// A file is written to a temporary file beside it (`.NAME.tmp-RANDOM`, opened `O_CREAT|O_EXCL`
/// with mode 0600 and set to exactly that whatever the umask), synced, then linked to its name,
/// which fails if the name appeared meanwhile (so two writers never overwrite each other), or with
/// `force` renamed over it. A failure at any point removes the temporary file: no half file is
/// ever left under the name. A character device or named pipe (`/dev/stdout`, `>(…)`) is written in
/// place: there is nothing there to replace.
enum OutputFile {
    /// Where a write goes, once checked.
    enum Destination: Equatable {
        /// A regular file (the target of a symbolic link), replaced or created whole.
        case file(String)
        /// A device or pipe, written in place.
        case stream
    }

    /// Checks, before any work is done, that `path` may be written: refuses a directory, and an
    /// existing file unless `force` (`forceFlag` names the option in the message).
    @discardableResult
    static func check(_ path: String, force: Bool, forceFlag: String = "--force") throws -> Destination {
        guard !path.isEmpty else { throw UserError(description: "the output file name is empty") }
        var link = stat()
        if lstat(path, &link) != 0 {
            switch errno {
            case ENOENT: break
            case ENOTDIR: throw UserError(description: "cannot write \(path): a part of the path is not a directory")
            case EACCES, EPERM: throw UserError(description: "cannot write \(path): permission denied")
            default: throw UserError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            // A dangling path: is its directory there?
            let directory = parent(of: path)
            var status = stat()
            guard stat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw UserError(description: "cannot write \(path): no such directory \(directory)")
            }
            return .file(path)
        }
        // /dev/stdout, /dev/fd/N, /proc/self/fd/N: links to what the shell opened; write there.
        if path.hasPrefix("/dev/") || path.hasPrefix("/proc/"), link.st_mode & S_IFMT == S_IFLNK { return .stream }
        var status = stat()
        let exists = stat(path, &status) == 0
        if exists {
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                throw UserError(description: "\(path) is a directory: give the name of a file to write")
            case S_IFCHR, S_IFIFO, S_IFSOCK:
                return .stream
            default:
                break
            }
        }
        guard force else {
            throw UserError(description: "\(path) exists: pass \(forceFlag) to replace it")
        }
        // Replace the file a symbolic link points at, not the link; a dangling link itself.
        if exists, link.st_mode & S_IFMT == S_IFLNK, let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return .file(String(cString: resolved))
        }
        return .file(path)
    }

    /// Whether two output paths name one file: the same existing file (device and inode, through
    /// symbolic links: `/dev/stdout` twice too), or the same name in the same directory once
    /// that directory's path and a symbolic link at the name are resolved.
    static func sameFile(_ first: String, _ second: String) -> Bool {
        var one = stat()
        var two = stat()
        if stat(first, &one) == 0, stat(second, &two) == 0 { return one.st_dev == two.st_dev && one.st_ino == two.st_ino }
        return canonical(first) == canonical(second)
    }

    /// `path` with its directory resolved (and a symbolic link at the name followed one step).
    static func canonical(_ path: String) -> String {
        var target = path
        var buffer = [CChar](repeating: 0, count: 4097)
        let count = readlink(path, &buffer, buffer.count - 1)
        if count > 0 {
            let link = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            target = link.hasPrefix("/") ? link : parent(of: path) + "/" + link
        }
        let base = target.split(separator: "/").last.map(String.init) ?? target
        guard let resolved = realpath(parent(of: target), nil) else { return target }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + base
    }

    /// Writes `bytes` to `path` as described above; `mode` is the file's exact mode.
    static func write(_ bytes: [UInt8], to path: String, force: Bool, forceFlag: String = "--force", mode: mode_t = 0o600) throws {
        switch try check(path, force: force, forceFlag: forceFlag) {
        case .stream:
            let descriptor = open(path, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw failure(path, errno) }
            defer { close(descriptor) }
            try writeAll(bytes, to: descriptor, path: path)
        case .file(let target):
            let temporary = try writeTemporary(bytes, beside: target, mode: mode, named: path)
            do {
                if force {
                    guard rename(temporary, target) == 0 else { throw failure(path, errno) }
                } else {
                    try publish(temporary, as: target, forceFlag: forceFlag, named: path)
                }
            } catch {
                unlink(temporary)
                throw error
            }
            syncDirectory(of: target)
        }
    }

    /// Gives `temporary` the name `target` unless something has that name already (then
    /// `exists`); the temporary name is removed either way.
    static func publish(_ temporary: String, as target: String, forceFlag: String, named path: String) throws {
        if link(temporary, target) == 0 {
            unlink(temporary)
            return
        }
        let code = errno
        if code == EEXIST { throw UserError(description: "\(path) exists: pass \(forceFlag) to replace it") }
        // A file system without hard links: check, then rename (a narrow race remains there).
        guard [EPERM, ENOTSUP, EOPNOTSUPP, EMLINK, ENOSYS].contains(code) else { throw failure(path, code) }
        var status = stat()
        if lstat(target, &status) == 0 { throw UserError(description: "\(path) exists: pass \(forceFlag) to replace it") }
        guard rename(temporary, target) == 0 else { throw failure(path, errno) }
    }

    /// Writes `bytes` to a new temporary file in `target`'s directory, mode exactly `mode`,
    /// synced and closed; returns its path (removed again if anything fails).
    static func writeTemporary(_ bytes: [UInt8], beside target: String, mode: mode_t, named path: String) throws -> String {
        let directory = parent(of: target)
        let base = target.split(separator: "/").last.map(String.init) ?? "output"
        var descriptor: Int32 = -1
        var temporary = ""
        for _ in 0..<16 {
            let suffix = (0..<6).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
            temporary = (directory == "." && !target.hasPrefix("./") ? "" : directory + "/") + ".\(base).tmp-\(suffix)"
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
            if descriptor >= 0 || errno != EEXIST { break }
        }
        guard descriptor >= 0 else {
            let code = errno
            var status = stat()
            if code == ENOENT, stat(directory, &status) == 0 {
                throw UserError(description: "cannot write \(path): files cannot be created in \(directory)")
            }
            throw failure(path, code, directory: directory)
        }
        do {
            // Exactly `mode`, whatever the umask took away (it can only take, never add).
            guard fchmod(descriptor, mode) == 0 else { throw failure(path, errno) }
            try writeAll(bytes, to: descriptor, path: path)
            guard fsync(descriptor) == 0 else { throw failure(path, errno) }
            guard close(descriptor) == 0 else {
                descriptor = -1
                throw failure(path, errno)
            }
            descriptor = -1
        } catch {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporary)
            throw error
        }
        return temporary
    }

    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure(path, errno)
                }
                offset += written
            }
        }
    }

    /// Makes a rename durable (best effort: some file systems refuse to sync a directory).
    static func syncDirectory(of path: String) {
        let descriptor = open(parent(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// A message naming the file and what is wrong, for `errno` `code`.
    static func failure(_ path: String, _ code: Int32, directory: String? = nil) -> UserError {
        let reason: String
        switch code {
        case EACCES, EPERM: reason = "permission denied" + (directory.map { " (in \($0))" } ?? "")
        case ENOENT: reason = "no such directory " + (directory ?? parent(of: path))
        case ENOTDIR: reason = "a part of the path is not a directory"
        case EROFS: reason = "the file system is read-only"
        case ENOSPC: reason = "no space left on the device"
        case EDQUOT: reason = "the disk quota is exceeded"
        case EISDIR: reason = "it is a directory"
        default: reason = String(cString: strerror(code))
        }
        return UserError(description: "cannot write \(path): \(reason); nothing was written")
    }
}
