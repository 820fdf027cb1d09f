import DossierDomain
import DossierStore
import Foundation
import PostgresClient
import Synchronization

/// Who a request acts for: a person of the ledger, as the database knows them.
public struct Identity: Sendable, Equatable {
    public var person: String
    /// hr, reviewer, auditor or admin (for what pages offer; the database decides what is allowed).
    public var role: String
    /// How the request proved it: a browser session (needs its CSRF token on every form) or a token.
    public var viaToken: Bool
    /// The browser session's CSRF token (nil for a token).
    public var csrf: String?

    /// Whether pages offer the decision forms (hr and admins record decisions).
    public var records: Bool { role == "hr" || role == "admin" }
    /// Whether pages show names (everyone but auditors, within what the database serves them).
    public var readsNames: Bool { role != "auditor" }
}

/// Browser sessions, in memory: a random id in an HttpOnly, SameSite=Strict cookie, a CSRF token,
/// an idle and an absolute timeout. Restarting the server logs everyone out, which is acceptable
/// for an office tool and keeps no credentials on disk.
public final class BrowserSessions: Sendable {
    struct Entry {
        var identity: Identity
        var created: ContinuousClock.Instant
        var lastSeen: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let idle: Duration
    let absolute: Duration

    public init(idle: Duration = .seconds(30 * 60), absolute: Duration = .seconds(8 * 3600)) {
        self.idle = idle
        self.absolute = absolute
    }

    /// Starts a session; returns its id (the cookie's value).
    public func start(person: String, role: String) -> String {
        let id = Self.randomHex(32)
        let identity = Identity(person: person, role: role, viaToken: false, csrf: Self.randomHex(24))
        let now = ContinuousClock.now
        entries.withLock { entries in
            // Expired sessions go when new ones come.
            entries = entries.filter { !self.expired($0.value, now: now) }
            entries[id] = Entry(identity: identity, created: now, lastSeen: now)
        }
        return id
    }

    /// The session's identity, when it is live (and marks it used).
    public func identity(_ id: String) -> Identity? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard var entry = entries[id] else { return nil }
            if expired(entry, now: now) {
                entries[id] = nil
                return nil
            }
            entry.lastSeen = now
            entries[id] = entry
            return entry.identity
        }
    }

    public func end(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    public var count: Int { entries.withLock { $0.count } }

    private func expired(_ entry: Entry, now: ContinuousClock.Instant) -> Bool {
        now - entry.lastSeen > idle || now - entry.created > absolute
    }

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Failed logins, counted per user name and per address over a window: past the limit, logins
/// are refused (429 with Retry-After) until the window moves on, whatever the password.
public final class LoginThrottle: Sendable {
    fileprivate let failures = Mutex<[String: [ContinuousClock.Instant]]>([:])
    let window: Duration
    let perUser: Int
    let perAddress: Int

    public init(window: Duration = .seconds(15 * 60), perUser: Int = 5, perAddress: Int = 20) {
        self.window = window
        self.perUser = perUser
        self.perAddress = perAddress
    }

    /// Reserves one attempt: counted as a failure now (so parallel guesses cannot all pass the
    /// check before any fails), taken back by `succeeded`. Returns the seconds to wait instead,
    /// when the user name or the address is over its limit.
    public func begin(user: String, address: String) -> Int? {
        let now = ContinuousClock.now
        return failures.withLock { failures in
            var wait: Duration?
            for (key, limit) in [("u:" + user, perUser), ("a:" + address, perAddress)] {
                let recent = (failures[key] ?? []).filter { now - $0 < window }
                failures[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit, let oldest = recent.first {
                    let remaining = window - (now - oldest)
                    wait = max(wait ?? .zero, remaining)
                }
            }
            if let wait { return max(1, Int(wait.components.seconds) + 1) }
            failures["u:" + user, default: []].append(now)
            failures["a:" + address, default: []].append(now)
            return nil
        }
    }

    /// The attempt `begin` reserved succeeded: it does not count, nor do the user's earlier failures.
    public func succeeded(user: String, address: String) {
        failures.withLock { failures in
            failures["u:" + user] = nil
            if var list = failures["a:" + address], !list.isEmpty {
                list.removeLast()
                failures["a:" + address] = list.isEmpty ? nil : list
            }
        }
    }
}

extension LoginThrottle {
    /// The attempt `begin` reserved was not made (busy, or the database unreachable): it does not count.
    public func cancel(user: String, address: String) {
        failures.withLock { failures in
            for key in ["u:" + user, "a:" + address] {
                if var list = failures[key], !list.isEmpty {
                    list.removeLast()
                    failures[key] = list.isEmpty ? nil : list
                }
            }
        }
    }
}

/// At most a few password checks at once: each is a new PostgreSQL connection (a backend and a
/// SCRAM exchange), so a burst of logins must not exhaust the server's connection slots.
public final class LoginGate: Sendable {
    private let inFlight = Mutex(0)
    let limit: Int

    public init(limit: Int = 4) { self.limit = limit }

    /// Runs `body` when fewer than `limit` checks run; nil (busy) otherwise.
    func run<T: Sendable>(_ body: () async -> T) async -> T? {
        let admitted = inFlight.withLock { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { return nil }
        defer { inFlight.withLock { $0 -= 1 } }
        return await body()
    }
}

/// Checks a person's password the only way Dossier knows one: PostgreSQL is asked to open a
/// connection as them (it verifies the SCRAM-SHA-256 password); Dossier keeps no password store.
public enum PasswordCheck {
    public enum Outcome: Sendable, Equatable {
        case person(name: String, role: String)
        /// Wrong user or password, or not a person of this ledger: one answer for all three.
        case refused
        /// The database let the login in without asking for a password (trust or peer): such a
        /// login proves nothing, and the server refuses it.
        case passwordNotChecked
        case unavailable(String)
    }

    /// Runs off the cooperative pool: connecting blocks.
    public static func check(_ configuration: DatabaseConfiguration, user: String, password: String) async -> Outcome {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: checkNow(configuration, user: user, password: password))
            }
        }
    }

    static func checkNow(_ configuration: DatabaseConfiguration, user: String, password: String) -> Outcome {
        guard !user.isEmpty, user.utf8.count <= 63, !password.isEmpty, password.utf8.count <= 1024,
            !user.contains("\0"), !password.contains("\0")
        else { return .refused }
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection(connectionString: configuration.connectionString, user: user, password: password)
        } catch let error as PostgresError {
            let reason = error.context ?? ""
            if reason.contains("password authentication failed") || reason.contains("permission denied for database")
                || reason.contains("does not exist") || reason.contains("not permitted to log in")
                || reason.contains("no password supplied") || reason.contains("authentication failed")
            {
                return .refused
            }
            return .unavailable("the database cannot be reached")
        } catch {
            return .unavailable("the database cannot be reached")
        }
        guard connection.passwordWasUsed else { return .passwordNotChecked }
        do {
            let actor = try Ledger.currentActor(connection)
            return .person(name: actor.name, role: actor.role)
        } catch {
            return .refused
        }
    }
}
