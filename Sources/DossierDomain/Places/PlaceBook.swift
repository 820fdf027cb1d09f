import Foundation

/// A change of the gazetteer: a city, district, street or community established, renamed,
/// merged into another of its kind, or abolished, on the decision's effective date.
public struct PlaceChange: Sendable, Equatable {
    public var kind: PlaceKind
    public var action: PlaceAction
    /// The place's name (for a rename, merge or abolition: its name on the effective date).
    public var name: String
    /// The parent's path (`上海`, `上海/黄浦区`, `上海/黄浦区/外滩街道`); nil for a city.
    public var within: String?
    /// A rename's new name.
    public var newName: String?
    /// A merge's target: the path of a place of the same kind.
    public var into: String?

    public init(kind: PlaceKind, action: PlaceAction, name: String, within: String?, newName: String? = nil, into: String? = nil) {
        self.kind = kind
        self.action = action
        self.name = name
        self.within = within
        self.newName = newName
        self.into = into
    }

    /// The place's path: its parent's path and its name.
    public var path: String { within.map { $0 + "/" + name } ?? name }

    /// The jurisdiction stream the change is recorded in: the city's for a city or a district,
    /// the district's for a street or a community (so a district's clerk keeps its streets and
    /// communities, and the city's clerk its districts).
    public var jurisdiction: String {
        let parts = PlaceBook.components(path)
        switch kind {
        case .city, .district: return parts[0]
        case .street, .community: return parts.prefix(2).joined(separator: "/")
        }
    }

    /// What is wrong with the change's shape, as (field, message) pairs.
    public var shapeProblems: [(field: String, message: String)] {
        var problems: [(String, String)] = []
        for (field, text) in [("name", name), ("newName", newName)] {
            if let text, text.contains("/") { problems.append((field, "a place's name must not contain a slash")) }
        }
        let parents = within.map(PlaceBook.components)?.count ?? 0
        if kind == .city, within != nil {
            problems.append(("within", "a city lies within nothing; leave \"within\" out"))
        } else if kind != .city, parents != kind.depth - 1 || within.map(PlaceBook.components)?.contains("") == true {
            let example = ["上海", "上海/黄浦区", "上海/黄浦区/外滩街道"][kind.depth - 2]
            problems.append(
                ("within", "a \(kind.rawValue) lies within a \(PlaceKind.allCases[kind.depth - 2].rawValue): give its path, e.g. \"\(example)\""))
        }
        if action == .rename, newName == nil { problems.append(("newName", "a rename gives the new name")) }
        if action != .rename, newName != nil { problems.append(("newName", "only a rename gives a new name")) }
        if action == .merge {
            if let into {
                let parts = PlaceBook.components(into)
                if parts.count != kind.depth || parts.contains("") {
                    problems.append(("into", "a \(kind.rawValue) merges into another \(kind.rawValue): give its path of \(kind.depth) names"))
                } else if kind != .city, PlaceBook.components(into).prefix(kind == .district ? 1 : 2).joined(separator: "/") != jurisdiction {
                    problems.append(("into", "a \(kind.rawValue) of \(jurisdiction) merges only into another \(kind.rawValue) of \(jurisdiction)"))
                }
            } else {
                problems.append(("into", "a merge gives the path of the place it merges into"))
            }
        } else if into != nil {
            problems.append(("into", "only a merge gives \"into\""))
        }
        return problems
    }
}

/// The gazetteer on every date: the places established, their names, and where merged places
/// went, folded from place decisions (in effective order, log order on one day). Pure: built
/// from the place decisions in force handed to it (corrections and rescissions are applied by
/// whoever hands them over).
public struct PlaceBook: Sendable {
    /// One place over its whole life.
    public struct Place: Sendable {
        public var id: Int
        public var kind: PlaceKind
        public var established: CalendarDate
        /// The day it ceased to exist (merged or abolished), if it did.
        public var ended: CalendarDate?
        public var endedBy: PlaceAction?
        public var mergedInto: Int?
        /// Its names, each from a date (the first from `established`).
        public var names: [(from: CalendarDate, name: String)]
        /// Its parent, each from a date (a merge of the parent moves it).
        public var parents: [(from: CalendarDate, parent: Int?)]

        public func exists(on date: CalendarDate) -> Bool {
            established <= date && (ended.map { date < $0 } ?? true)
        }

        public func name(on date: CalendarDate) -> String {
            names.last(where: { $0.from <= date })?.name ?? names[0].name
        }

        public func parent(on date: CalendarDate) -> Int? {
            parents.last(where: { $0.from <= date })?.parent ?? parents[0].parent
        }
    }

    public private(set) var places: [Place] = []
    /// The changes folded, in the order given (log order).
    public private(set) var changes: [(eventID: UUID, effective: CalendarDate, change: PlaceChange)] = []
    /// Per change (event id): what makes it invalid. An invalid change is not applied.
    public private(set) var problems: [UUID: [String]] = [:]
    /// The cities that have a gazetteer: a city ever established (by any name it had).
    public private(set) var cities: Set<String> = []
    /// The latest effective date among `changes` (nil: none): a change dated on or after it
    /// comes last in the fold's order.
    public private(set) var latestEffective: CalendarDate?
    /// Every place that ever lay in a place (nil: the cities), so a lookup reads only those.
    var lying: [Int?: [Int]] = [:]

    public init() {}

    /// The book of `decisions` (those that are not place decisions are left out).
    public init(_ decisions: [StoredDecision]) {
        self.init(changes: decisions.compactMap { stored in
            guard case .place(let change) = stored.decision.body else { return nil }
            return (stored.eventID, stored.decision.effective, change)
        })
    }

    public init(changes: [(eventID: UUID, effective: CalendarDate, change: PlaceChange)]) {
        self.changes = changes
        latestEffective = changes.map(\.effective).max()
        let order = changes.indices.sorted { (changes[$0].effective, $0) < (changes[$1].effective, $1) }
        for index in order {
            let (eventID, date, change) = changes[index]
            if let problem = apply(change, on: date) { problems[eventID, default: []].append(problem) }
        }
    }

    /// The book with one more change: what it would be once `change` is recorded.
    ///
    /// A change dated on or after every change folded comes last in the fold's order (effective
    /// date, then log order), so it is applied to this book as it stands; an earlier one is folded
    /// with all the others again. (A gazetteer imported in date order is built in one pass, not
    /// folded again for each of its places.)
    public func adding(eventID: UUID, effective: CalendarDate, _ change: PlaceChange) -> PlaceBook {
        var book = self
        book.add(eventID: eventID, effective: effective, change)
        return book
    }

    /// Adds one more change to this book, as `adding` returns it. A book held by nothing else is
    /// changed in place (an import adds a city's tens of thousands of places one by one).
    public mutating func add(eventID: UUID, effective: CalendarDate, _ change: PlaceChange) {
        guard comesLast(effective) else {
            self = PlaceBook(changes: changes + [(eventID, effective, change)])
            return
        }
        changes.append((eventID, effective, change))
        latestEffective = effective
        if let problem = apply(change, on: effective) { problems[eventID, default: []].append(problem) }
    }

    /// True when a change dated `effective` would come after every change folded.
    func comesLast(_ effective: CalendarDate) -> Bool {
        latestEffective.map { $0 <= effective } ?? true
    }

    public var isEmpty: Bool { changes.isEmpty }

    /// True when `city` has a gazetteer (a city of that name was ever established): its
    /// placements are checked.
    public func hasGazetteer(city: String) -> Bool { cities.contains(city) }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    // MARK: Reading

    /// The places of `kind` under `parent` (nil: the cities) on `date`.
    public func children(of parent: Int?, kind: PlaceKind, on date: CalendarDate) -> [Place] {
        (lying[parent] ?? []).map { places[$0] }.filter { $0.kind == kind && $0.exists(on: date) && $0.parent(on: date) == parent }
    }

    /// The place at `path` on `date`, or why there is none.
    public func resolve(_ path: [String], on date: CalendarDate) -> Result<Place, Unknown> {
        var parent: Place?
        for (level, name) in path.enumerated() {
            let kind = PlaceKind.allCases[level]
            let siblings = children(of: parent?.id, kind: kind, on: date)
            guard let found = siblings.first(where: { $0.name(on: date) == name }) else {
                return .failure(Unknown(kind: kind, name: name, parentPath: path.prefix(level).joined(separator: "/"), date: date,
                                        suggestions: Self.closest(to: name, among: siblings.map { $0.name(on: date) }),
                                        note: note(kind: kind, name: name, parent: parent?.id, path: path, on: date)))
            }
            parent = found
        }
        return .success(parent!)
    }

    /// The place's path on `date`.
    public func path(of place: Place, on date: CalendarDate) -> [String] {
        var names = [place.name(on: date)]
        var parent = place.parent(on: date)
        while let id = parent {
            names.insert(places[id].name(on: date), at: 0)
            parent = places[id].parent(on: date)
        }
        return names
    }

    /// Where a place named by `path` on `from` is on `date`: the same place under its name then,
    /// or the place it was merged into (nil when `path` named no place on `from`, or the place
    /// was abolished by `date`).
    public func inForce(_ path: [String], from: CalendarDate, on date: CalendarDate) -> [String]? {
        guard case .success(var place) = resolve(path, on: from) else { return nil }
        while let ended = place.ended, ended <= date {
            guard let target = place.mergedInto else { return nil }
            place = places[target]
        }
        return self.path(of: place, on: max(date, place.established))
    }

    /// Why a name is unknown: no such place under its parent on the date.
    public struct Unknown: Error, Sendable, Equatable, CustomStringConvertible {
        public var kind: PlaceKind
        public var name: String
        public var parentPath: String
        public var date: CalendarDate
        public var suggestions: [String]
        /// What else is known of the name (another date, another parent).
        public var note: String?

        public var description: String {
            var text = "\(name): no such \(kind.rawValue)" + (parentPath.isEmpty ? "" : " in \(parentPath)") + " on \(date)"
            if !suggestions.isEmpty {
                text += "; did you mean " + suggestions.joined(separator: " or ") + "?"
            }
            if let note { text += " (\(note))" }
            return text
        }
    }

    /// The same name at another time under the same parent, or elsewhere in the city.
    func note(kind: PlaceKind, name: String, parent: Int?, path: [String], on date: CalendarDate) -> String? {
        if let other = places.first(where: { $0.kind == kind && $0.names.contains(where: { $0.name == name }) && $0.parents.contains(where: { $0.parent == parent }) }) {
            if other.established > date { return "\(name) is established from \(other.established)" }
            if let ended = other.ended, ended <= date {
                if let target = other.mergedInto {
                    return "\(name) was merged into \(self.path(of: places[target], on: ended).joined(separator: "/")) on \(ended)"
                }
                return "\(name) was abolished on \(ended)"
            }
            return "\(name) was renamed \(other.name(on: date))"
        }
        let elsewhere = places.filter { $0.kind == kind && $0.exists(on: date) && $0.name(on: date) == name }
            .map { self.path(of: $0, on: date) }
            .filter { kind == .city || $0.first == path.first }
        guard !elsewhere.isEmpty else { return nil }
        return "a \(kind.rawValue) \(name) lies in " + elsewhere.map { $0.dropLast().joined(separator: "/") }.joined(separator: ", ")
    }

    /// The names closest to `name` (edit distance over characters), best first, at most three;
    /// only names close enough to be a slip (at most a third of the longer name, at least 1).
    public static func closest(to name: String, among names: [String]) -> [String] {
        let scored = Set(names).map { ($0, editDistance(name, $0)) }
            .filter { $0.1 <= max(1, max(name.count, $0.0.count) / 3) }
        return scored.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(3).map(\.0)
    }

    /// Levenshtein distance over extended grapheme clusters (one Chinese character counts one).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    // MARK: Folding

    /// What a valid change does to the book (found by `plan` without changing it).
    enum Step {
        case establish(parent: Int?)
        case rename(Int, to: String)
        case merge(Int, into: Int)
        case abolish(Int)
    }

    /// Applies one change on `date`; returns why it cannot be, changing nothing then.
    mutating func apply(_ change: PlaceChange, on date: CalendarDate) -> String? {
        switch plan(change, on: date) {
        case .failure(let problem): return problem.message
        case .success(let step): perform(step, change, on: date); return nil
        }
    }

    /// Why `change` cannot be applied on `date` (nil: it can), as `apply` would find, without
    /// changing the book.
    func problem(applying change: PlaceChange, on date: CalendarDate) -> String? {
        if case .failure(let problem) = plan(change, on: date) { return problem.message }
        return nil
    }

    struct ChangeProblem: Error { var message: String }

    /// Checks `change` against the book on `date`: what applying it does, or why it cannot be.
    func plan(_ change: PlaceChange, on date: CalendarDate) -> Result<Step, ChangeProblem> {
        func refuse(_ message: String) -> Result<Step, ChangeProblem> { .failure(ChangeProblem(message: message)) }
        if let shape = change.shapeProblems.first { return refuse("\(shape.field): \(shape.message)") }
        let parentPath = change.within.map(Self.components) ?? []
        var parent: Place?
        if !parentPath.isEmpty {
            switch resolve(parentPath, on: date) {
            case .success(let found): parent = found
            case .failure(let unknown): return refuse("within: \(unknown)")
            }
        }
        let siblings = children(of: parent?.id, kind: change.kind, on: date)
        let existing = siblings.first { $0.name(on: date) == change.name }
        let here = (parent.map { "in " + path(of: $0, on: date).joined(separator: "/") + " " } ?? "")
        /// The change names a place that does not exist there on its date.
        func unknownPlace() -> String {
            let unknown = Unknown(kind: change.kind, name: change.name, parentPath: parentPath.joined(separator: "/"), date: date,
                                  suggestions: Self.closest(to: change.name, among: siblings.map { $0.name(on: date) }),
                                  note: note(kind: change.kind, name: change.name, parent: parent?.id, path: parentPath + [change.name], on: date))
            return "\(change.action.rawValue) of \(unknown)"
        }
        switch change.action {
        case .establish:
            if existing != nil {
                return refuse("a \(change.kind.rawValue) \(change.name) exists \(here)on \(date) already; a name is used once among its siblings")
            }
            return .success(.establish(parent: parent?.id))
        case .rename:
            guard let place = existing else { return refuse(unknownPlace()) }
            let newName = change.newName!
            if newName == change.name { return refuse("newName: the new name is the name it has") }
            if siblings.contains(where: { $0.name(on: date) == newName }) {
                return refuse("newName: a \(change.kind.rawValue) \(newName) exists \(here)on \(date) already")
            }
            return .success(.rename(place.id, to: newName))
        case .merge:
            guard let place = existing else { return refuse(unknownPlace()) }
            let target: Place
            switch resolve(Self.components(change.into!), on: date) {
            case .success(let found): target = found
            case .failure(let unknown): return refuse("into: \(unknown)")
            }
            if target.id == place.id { return refuse("into: a place cannot merge into itself") }
            return .success(.merge(place.id, into: target.id))
        case .abolish:
            guard let place = existing else { return refuse(unknownPlace()) }
            let living = (lying[place.id] ?? []).map { places[$0] }.filter { $0.exists(on: date) && $0.parent(on: date) == place.id }
            if !living.isEmpty {
                return refuse(
                    "\(change.path) still has \(living.count) \(living[0].kind.rawValue == "community" ? "communities" : living[0].kind.rawValue + "s") "
                        + "on \(date) (\(living.prefix(3).map { $0.name(on: date) }.joined(separator: ", "))); abolish or merge them first")
            }
            return .success(.abolish(place.id))
        }
    }

    /// Does what `plan` found `change` does on `date`.
    mutating func perform(_ step: Step, _ change: PlaceChange, on date: CalendarDate) {
        switch step {
        case .establish(let parent):
            lying[parent, default: []].append(places.count)
            places.append(
                Place(id: places.count, kind: change.kind, established: date, names: [(date, change.name)], parents: [(date, parent)]))
            if change.kind == .city { cities.insert(change.name) }
        case .rename(let id, let newName):
            places[id].names.append((date, newName))
            if change.kind == .city { cities.insert(newName) }
        case .merge(let id, let target):
            end(id, on: date, by: .merge)
            places[id].mergedInto = target
            // What lay in the merged place lies in the one it merged into from now on.
            for child in (lying[id] ?? []).map({ places[$0] }) where child.exists(on: date) && child.parent(on: date) == id {
                places[child.id].parents.append((date, target))
                lying[target, default: []].append(child.id)
            }
        case .abolish(let id):
            end(id, on: date, by: .abolish)
        }
    }

    mutating func end(_ id: Int, on date: CalendarDate, by action: PlaceAction) {
        places[id].ended = date
        places[id].endedBy = action
    }

    // MARK: The tree

    /// One place of the tree on a date, with what lies in it.
    public struct Node: Sendable, Equatable {
        public var kind: PlaceKind
        public var name: String
        public var path: String
        public var established: CalendarDate
        /// When it ceased to exist (after the date), and how.
        public var ended: CalendarDate?
        public var endedBy: PlaceAction?
        /// Earlier names, with the day each stopped.
        public var formerNames: [String]
        public var children: [Node]

        public var json: JSONObject {
            var object = JSONObject([
                ("kind", .string(kind.rawValue)), ("name", .string(name)), ("path", .string(path)),
                ("established", .string(established.description)),
            ])
            if let ended { object["ends"] = .string(ended.description) }
            if let endedBy { object["endsBy"] = .string(endedBy.rawValue) }
            if !formerNames.isEmpty { object["formerNames"] = .array(formerNames.map(JSONValue.string)) }
            object["children"] = .array(children.map { .object($0.json) })
            return object
        }
    }

    /// The places that exist on `date`, cities first, each with what lies in it (by name).
    public func tree(on date: CalendarDate) -> [Node] {
        func nodes(under parent: Int?, kind: PlaceKind?, prefix: String) -> [Node] {
            guard let kind else { return [] }
            let next = PlaceKind.allCases.first { $0.depth == kind.depth + 1 }
            return children(of: parent, kind: kind, on: date).sorted { $0.name(on: date) < $1.name(on: date) }.map { place in
                let name = place.name(on: date)
                let path = prefix.isEmpty ? name : prefix + "/" + name
                return Node(
                    kind: kind, name: name, path: path, established: place.established, ended: place.ended, endedBy: place.endedBy,
                    formerNames: place.names.filter { $0.from <= date && $0.name != name }.map(\.name),
                    children: nodes(under: place.id, kind: next, prefix: path))
            }
        }
        return nodes(under: nil, kind: .city, prefix: "")
    }

    /// The districts named `name` on `date`, as `City/District` jurisdictions.
    public func districts(named name: String, on date: CalendarDate) -> [String] {
        places.filter { $0.kind == .district && $0.names.contains(where: { $0.name == name }) }
            .map { path(of: $0, on: max(date, $0.established)).joined(separator: "/") }
    }
}
