import Foundation

/// A temporary-post cadre's record on a date, as known at a time: what `dossier show` gives for
/// an id whose record is a cadre stream (the temporary posts), like `WorkerReport` for a worker.
public struct CadreReport: Sendable {
    /// One temporary post, as corrected, effective by the report's date.
    public struct Post: Sendable, Equatable {
        public var eventID: UUID
        public var homeAgency: String
        public var community: String
        public var role: Role
        public var kind: TemporaryPostKind
        public var since: CalendarDate
        public var until: CalendarDate
        /// When a `temporary-post-end` effective by the report's date ended it.
        public var ended: CalendarDate?
    }

    public var cadre: String
    public var personal: PersonalRecord?
    public var asOf: CalendarDate
    public var knownAt: Timestamp?
    public var version: Int
    /// Every temporary post effective by `asOf`, oldest first.
    public var posts: [Post]

    /// The post held on `asOf`, if any.
    public var current: Post? { posts.last.flatMap { $0.ended == nil ? $0 : nil } }

    public init(cadre: String, history: History, personal: PersonalRecord?, asOf: CalendarDate, knownAt: Timestamp?, version: Int) {
        self.cadre = cadre
        self.personal = personal
        self.asOf = asOf
        self.knownAt = knownAt
        self.version = version
        var posts: [Post] = []
        for entry in history.entries where entry.decision.effective <= asOf {
            switch entry.decision.body {
            case .temporaryPost(let post):
                posts.append(
                    Post(
                        eventID: entry.eventID, homeAgency: post.homeAgency, community: post.community, role: post.role,
                        kind: post.kind, since: entry.decision.effective, until: post.until))
            case .temporaryPostEnd:
                if let last = posts.indices.last, posts[last].ended == nil { posts[last].ended = entry.decision.effective }
            default:
                break
            }
        }
        self.posts = posts
    }

    /// The documented JSON object of `dossier show --json` for a cadre.
    public var json: JSONObject {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func post(_ post: Post) -> JSONValue {
            .object(
                JSONObject([
                    ("eventId", .string(post.eventID.uuidString.lowercased())), ("homeAgency", .string(post.homeAgency)),
                    ("community", .string(post.community)), ("role", .string(post.role.rawValue)),
                    ("kind", .string(post.kind.rawValue)), ("since", .string(post.since.description)),
                    ("until", .string(post.until.description)), ("ended", text(post.ended?.description)),
                ]))
        }
        var object = JSONObject()
        object["cadre"] = .string(cadre)
        object["subjectKind"] = .string("cadre")
        object["name"] = text(personal?.name)
        object["personalData"] = .string(
            personal == nil ? "none" : personal!.erased ? "erased" : personal!.withheld ? "withheld" : "held")
        object["asOf"] = .string(asOf.description)
        object["knownAt"] = text(knownAt?.description)
        object["version"] = .integer(Int64(version))
        object["status"] = .string(current == nil ? "no-temporary-post" : "on-temporary-post")
        object["current"] = current.map(post) ?? .null
        object["temporaryPosts"] = .array(posts.map(post))
        return object
    }
}
