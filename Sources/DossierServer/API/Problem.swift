import DossierDomain
import DossierStore
import Foundation
import HTTPTypes
import Hummingbird
import PostgresClient

/// An error as the API answers it: an RFC 9457 problem document naming the rule or field and
/// what to do, never a C string, a stack or the data that was refused.
public struct Problem: Error, Sendable {
    public var status: HTTPResponse.Status
    /// A short slug: `refused`, `invalid-input`, `forbidden`, … (the `type` is `/problems/SLUG`).
    public var slug: String
    public var title: String
    public var detail: String
    public var extra: JSONObject = JSONObject()
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ slug: String, _ title: String, _ detail: String, extra: JSONObject = JSONObject()) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra
    }

    public var json: JSONObject {
        var object = JSONObject([
            ("type", .string("/problems/" + slug)), ("title", .string(title)), ("status", .integer(Int64(status.code))),
            ("detail", .string(detail)),
        ])
        for (key, value) in extra { object[key] = value }
        return object
    }

    public func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: status, headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(string: JSONValue.object(json).prettyText() + "\n")))
    }

    // MARK: Common problems

    public static let unauthenticated = Problem(
        .unauthorized, "unauthenticated", "Log in first",
        "this needs a logged-in person: log in at /login, or send Authorization: Bearer TOKEN (dossier user token NAME)")

    public static func badParameter(_ name: String, _ message: String) -> Problem {
        Problem(.badRequest, "invalid-parameter", "Invalid parameter", "\(name): \(message)", extra: JSONObject([("parameter", .string(name))]))
    }

    public static func forbidden(_ message: String) -> Problem {
        Problem(.forbidden, "forbidden", "Not allowed", message)
    }

    /// Maps what the ledger and the database answered to a problem.
    public static func from(_ error: Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as LedgerError:
            switch error {
            case .refused(let decision, let violations):
                let overridable = violations.allSatisfy { !$0.rule.isStructural }
                return Problem(
                    .unprocessableContent, "refused", "Decision refused by policy rules", error.description,
                    extra: JSONObject([
                        ("decision", .string(decision.kind.rawValue)), ("subject", .string(decision.subject)),
                        ("reference", .string(decision.reference)), ("overridable", .bool(overridable)),
                        ("rules", .array(violations.map { .object(JSONObject([("rule", .string($0.rule.rawValue)), ("message", .string($0.message))])) })),
                    ]))
            case .noRecord:
                return Problem(.notFound, "no-record", "No such record", error.description)
            case .nothingKnown:
                return Problem(.notFound, "nothing-known", "Nothing known then", error.description)
            case .unreadable:
                return Problem(.internalServerError, "unreadable-event", "An event cannot be read", error.description)
            }
        case let error as StoreError:
            switch error {
            case .notAllowed(let reason), .permissionDenied(let reason):
                return Problem(.forbidden, "forbidden", "Not allowed", reason)
            case .outOfScope(let reason):
                return Problem(.forbidden, "out-of-scope", "Outside your jurisdictions", reason)
            case .refused(let reason):
                return Problem(.unprocessableContent, "refused", "Refused by the database", reason)
            case .invalidArgument(let reason):
                return Problem(.badRequest, "invalid-input", "Invalid input", reason)
            case .idempotencyConflict, .wrongExpectedVersion:
                return Problem(.conflict, "conflict", "Conflict", error.description)
            case .unavailable, .timedOut, .notInitialized:
                var problem = Problem(.serviceUnavailable, "unavailable", "Database unavailable", error.description)
                problem.retryAfter = 5
                return problem
            case .notRecorded:
                var problem = Problem(.serviceUnavailable, "not-recorded", "Not recorded", error.description)
                problem.retryAfter = 5
                return problem
            case .outcomeUnknown:
                var problem = Problem(.serviceUnavailable, "outcome-unknown", "Outcome unknown", error.description)
                problem.retryAfter = 5
                return problem
            case .corruptEvent:
                return Problem(.internalServerError, "integrity", "The log holds an unreadable event", error.description)
            }
        case let error as InvalidDecision:
            return Problem(
                .badRequest, "invalid-decision", "Invalid decision", error.description,
                extra: JSONObject([("problems", .array(error.problems.map { .object(JSONObject([("field", $0.field.map(JSONValue.string) ?? .null), ("message", .string($0.message))])) }))]))
        case let error as IntegrityError:
            switch error {
            case .noCheckpoint, .notCovered, .stale:
                return Problem(.conflict, "no-checkpoint", "Not covered by a checkpoint", error.description)
            default:
                return Problem(.internalServerError, "integrity", "Integrity check failed", error.description)
            }
        case is SessionPool.PoolBusy:
            var problem = Problem(.serviceUnavailable, "busy", "Server busy", "every database connection is in use; try again shortly")
            problem.retryAfter = 2
            return problem
        case let error as PostgresError:
            if error.kind == .connectionFailed || error.kind == .connectionLost {
                var problem = Problem(.serviceUnavailable, "unavailable", "Database unavailable", "the database cannot be reached")
                problem.retryAfter = 5
                return problem
            }
            let mapped = StoreError.from(error)
            if mapped is PostgresError {
                if error.sqlState == .insufficientPrivilege {
                    return Problem(.forbidden, "forbidden", "Not allowed", "this person's role does not allow it")
                }
                return Problem(.internalServerError, "database", "Database error", "the database could not answer (SQLSTATE \(error.sqlState?.code ?? "?"))")
            }
            return Problem.from(mapped)
        default:
            return Problem(.internalServerError, "internal", "Internal error", "the server could not answer; the error is logged by type")
        }
    }
}
