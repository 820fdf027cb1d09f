import CLibPQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A message sent with NOTIFY.
public struct PostgresNotification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it.
    public var senderPID: Int32
}

extension PostgresConnection {
    /// Checks that a channel name is a plain lowercase identifier, so it can be quoted safely.
    static func validatedChannel(_ channel: String) throws -> String {
        let allowed = channel.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
        }
        guard allowed, !channel.isEmpty, channel.utf8.count < 64,
            !(channel.utf8.first! >= UInt8(ascii: "0") && channel.utf8.first! <= UInt8(ascii: "9"))
        else {
            throw PostgresError(.encoding, context: "a channel name must be a lowercase identifier")
        }
        return channel
    }

    /// Starts listening on a channel (a lowercase identifier).
    public func listen(_ channel: String) throws {
        // LISTEN takes no parameters; the name is checked to be a plain identifier first.
        try executeScript("LISTEN \"\(Self.validatedChannel(channel))\"")
    }

    /// Stops listening on a channel.
    public func unlisten(_ channel: String) throws {
        try executeScript("UNLISTEN \"\(Self.validatedChannel(channel))\"")
    }

    /// Sends a notification; delivered when the current transaction commits.
    public func notify(_ channel: String, payload: String = "") throws {
        try query("SELECT pg_notify(\(try Self.validatedChannel(channel)), \(payload))")
    }

    /// Waits until at least one notification arrives or `timeoutMilliseconds` pass.
    ///
    /// - Returns: the notifications received, oldest first; empty after a timeout.
    public func waitForNotifications(timeoutMilliseconds: Int) throws -> [PostgresNotification] {
        try ensureUsable()
        var received = try takeNotifications()
        if !received.isEmpty { return received }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw connectionError(context: "the connection has no socket") }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(clamping: timeoutMilliseconds))
        if ready < 0 && errno != EINTR {
            throw connectionError(context: "waiting for notifications failed")
        }
        received = try takeNotifications()
        return received
    }

    /// Reads what the server has sent and returns the notifications that came with it.
    func takeNotifications() throws -> [PostgresNotification] {
        guard PQconsumeInput(handle) == 1 else {
            throw connectionError(context: "reading from the server failed")
        }
        var received: [PostgresNotification] = []
        while let notice = PQnotifies(handle) {
            received.append(
                PostgresNotification(
                    channel: String(cString: notice.pointee.relname),
                    payload: String(cString: notice.pointee.extra),
                    senderPID: notice.pointee.be_pid))
            PQfreemem(notice)
        }
        return received
    }
}
