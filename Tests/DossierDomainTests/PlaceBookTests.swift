import DossierDomain
import Foundation
import Testing

/// The gazetteer folded from place decisions: what exists, under which name, on a date.
@Suite("PlaceBook")
struct PlaceBookTests {
    static func d(_ text: String) -> CalendarDate { CalendarDate(text)! }

    static func change(_ kind: PlaceKind, _ name: String, action: PlaceAction = .establish, within: String? = nil, newName: String? = nil, into: String? = nil)
        -> PlaceChange
    {
        PlaceChange(kind: kind, action: action, name: name, within: within, newName: newName, into: into)
    }

    /// 上海 > 黄浦区 > 外滩街道 > 外滩社区, 金陵社区; 上海 > 静安区 > 江宁路街道 > 外滩社区 (the same name elsewhere).
    static func shanghai() -> [(eventID: UUID, effective: CalendarDate, change: PlaceChange)] {
        [
            (UUID(), d("2000-01-01"), change(.city, "上海")),
            (UUID(), d("2000-01-01"), change(.district, "黄浦区", within: "上海")),
            (UUID(), d("2000-01-01"), change(.district, "静安区", within: "上海")),
            (UUID(), d("2000-01-01"), change(.street, "外滩街道", within: "上海/黄浦区")),
            (UUID(), d("2000-01-01"), change(.street, "江宁路街道", within: "上海/静安区")),
            (UUID(), d("2000-01-01"), change(.community, "外滩社区", within: "上海/黄浦区/外滩街道")),
            (UUID(), d("2000-01-01"), change(.community, "金陵社区", within: "上海/黄浦区/外滩街道")),
            (UUID(), d("2000-01-01"), change(.community, "外滩社区", within: "上海/静安区/江宁路街道")),
        ]
    }

    @Test("places exist from their effective date; an unknown district is named with the closest sibling")
    func establishAndDidYouMean() {
        let book = PlaceBook(changes: Self.shanghai())
        #expect(book.problems.isEmpty)
        #expect(book.hasGazetteer(city: "上海") && !book.hasGazetteer(city: "北京"))
        guard case .success = book.resolve(["上海", "黄浦区", "外滩街道", "金陵社区"], on: Self.d("2026-11-03")) else {
            Issue.record("金陵社区 should exist"); return
        }
        guard case .failure(let unknown) = book.resolve(["上海", "黄浦区"], on: Self.d("1999-12-31")) else {
            Issue.record("上海 does not exist before 2000"); return
        }
        #expect(unknown.description == "上海: no such city on 1999-12-31 (上海 is established from 2000-01-01)")
        guard case .failure(let misspelt) = book.resolve(["上海", "黄埔区", "外滩街道"], on: Self.d("2026-11-03")) else {
            Issue.record("黄埔区 is no district"); return
        }
        #expect(misspelt.description == "黄埔区: no such district in 上海 on 2026-11-03; did you mean 黄浦区?")
        // Nothing close: no suggestion.
        guard case .failure(let far) = book.resolve(["上海", "浦东新区"], on: Self.d("2026-11-03")) else { return }
        #expect(far.suggestions.isEmpty)
    }

    @Test("the same community name in two districts: each resolves under its own street; under another it is unknown, naming where it lies")
    func sameNameTwoDistricts() {
        let book = PlaceBook(changes: Self.shanghai())
        guard case .success(let huangpu) = book.resolve(["上海", "黄浦区", "外滩街道", "外滩社区"], on: Self.d("2020-01-01")),
            case .success(let jingan) = book.resolve(["上海", "静安区", "江宁路街道", "外滩社区"], on: Self.d("2020-01-01"))
        else { Issue.record("both 外滩社区 exist"); return }
        #expect(huangpu.id != jingan.id)
        guard case .failure(let unknown) = book.resolve(["上海", "静安区", "江宁路街道", "金陵社区"], on: Self.d("2020-01-01")) else {
            Issue.record("金陵社区 is not in 静安区"); return
        }
        #expect(unknown.description.contains("no such community in 上海/静安区/江宁路街道"))
        #expect(unknown.description.contains("上海/黄浦区/外滩街道"), "\(unknown)")
    }

    @Test("rename: the new name from its date, the old before; merge: the merged place's path leads to the target from its date")
    func renameAndMerge() {
        var changes = Self.shanghai()
        changes.append((UUID(), Self.d("2015-06-01"), Self.change(.community, "金陵社区", action: .rename, within: "上海/黄浦区/外滩街道", newName: "金陵东社区")))
        changes.append((UUID(), Self.d("2020-01-01"), Self.change(.community, "金陵东社区", action: .merge, within: "上海/黄浦区/外滩街道", into: "上海/黄浦区/外滩街道/外滩社区")))
        let book = PlaceBook(changes: changes)
        #expect(book.problems.isEmpty, "\(book.problems)")
        let old = ["上海", "黄浦区", "外滩街道", "金陵社区"]
        #expect(book.inForce(old, from: Self.d("2010-01-01"), on: Self.d("2014-01-01")) == old)
        #expect(book.inForce(old, from: Self.d("2010-01-01"), on: Self.d("2016-01-01")) == ["上海", "黄浦区", "外滩街道", "金陵东社区"])
        #expect(book.inForce(old, from: Self.d("2010-01-01"), on: Self.d("2021-01-01")) == ["上海", "黄浦区", "外滩街道", "外滩社区"])
        guard case .failure(let gone) = book.resolve(["上海", "黄浦区", "外滩街道", "金陵东社区"], on: Self.d("2021-01-01")) else {
            Issue.record("merged away"); return
        }
        #expect(gone.description.contains("merged into 上海/黄浦区/外滩街道/外滩社区 on 2020-01-01"), "\(gone)")
        let tree = book.tree(on: Self.d("2016-01-01"))
        let communities = tree[0].children.first { $0.name == "黄浦区" }!.children[0].children
        #expect(communities.map(\.name) == ["外滩社区", "金陵东社区"])
        #expect(communities[1].formerNames == ["金陵社区"])
        #expect(communities[1].ended == Self.d("2020-01-01") && communities[1].endedBy == .merge)
    }

    @Test("adding changes one at a time gives the book folding them all gives: in date order (applied as they come) and out of it (folded again), problems included")
    func addingEqualsFolding() {
        var changes = Self.shanghai()
        changes.append((UUID(), Self.d("2011-06-01"), Self.change(.district, "静安区", action: .merge, within: "上海", into: "上海/黄浦区")))
        changes.append((UUID(), Self.d("2015-06-01"), Self.change(.community, "金陵社区", action: .rename, within: "上海/黄浦区/外滩街道", newName: "金陵东社区")))
        // Out of date order: a community established before the rename (folded again), one whose
        // street does not exist (a problem), one of a name already taken (a problem).
        changes.append((UUID(), Self.d("2012-01-01"), Self.change(.community, "南京东路社区", within: "上海/黄浦区/外滩街道")))
        changes.append((UUID(), Self.d("2016-01-01"), Self.change(.community, "新社区", within: "上海/黄浦区/无名街道")))
        changes.append((UUID(), Self.d("2016-01-01"), Self.change(.community, "外滩社区", within: "上海/黄浦区/外滩街道")))
        changes.append((UUID(), Self.d("2016-01-01"), Self.change(.community, "金陵东社区", action: .merge, within: "上海/黄浦区/外滩街道", into: "上海/黄浦区/外滩街道/外滩社区")))
        var added = PlaceBook()
        for item in changes { added = added.adding(eventID: item.eventID, effective: item.effective, item.change) }
        let folded = PlaceBook(changes: changes)
        #expect(Set(added.problems.keys) == Set(folded.problems.keys) && added.problems.count == 2)
        for id in folded.problems.keys { #expect(added.problems[id] == folded.problems[id]) }
        for date in ["2000-01-01", "2011-06-01", "2012-06-01", "2015-06-01", "2017-01-01"] {
            #expect(added.tree(on: Self.d(date)) == folded.tree(on: Self.d(date)), "on \(date)")
        }
        #expect(added.cities == folded.cities && added.changes.count == folded.changes.count)
    }

    @Test("a change dated after every other is judged on the book as it stands (no copy): the same problems as folding the book again with it")
    func judgingLastChangeEqualsFolding() {
        var book = PlaceBook(changes: Self.shanghai())
        let later: [(String, PlaceChange)] = [
            ("2016-01-01", Self.change(.street, "新街道", within: "上海/黄浦区")),
            ("2016-01-01", Self.change(.street, "新街道", within: "上海/黄浦区")),  // the same name again, same day
            ("2016-02-01", Self.change(.community, "新社区", within: "上海/黄浦区/新街道")),
            ("2016-02-01", Self.change(.community, "新社区", within: "上海/黄埔区/新街道")),  // misspelt district
            ("2016-03-01", Self.change(.street, "新街道", action: .abolish, within: "上海/黄浦区")),  // still has a community
            ("2016-04-01", Self.change(.community, "新社区", action: .rename, within: "上海/黄浦区/新街道", newName: "新社区")),
            ("2016-05-01", Self.change(.community, "新社区", action: .merge, within: "上海/黄浦区/新街道", into: "上海/黄浦区/新街道/新社区")),
            ("2016-06-01", Self.change(.district, "静安区", action: .merge, within: "上海", into: "上海/黄浦区")),
            ("2016-07-01", Self.change(.community, "无名社区", action: .abolish, within: "上海/黄浦区/新街道")),
        ]
        var refused = 0
        for (date, change) in later {
            let id = UUID()
            let decision = Decision(
                kind: .place, subject: change.jurisdiction, effective: Self.d(date), authority: "a", reference: "P-\(id)", body: .place(change))
            let judged = book.problems(of: decision, eventID: id).map(\.message)
            let folded = PlaceBook(changes: book.changes + [(id, Self.d(date), change)]).problems[id] ?? []
            #expect(judged == folded, "\(date) \(change.action) \(change.name)")
            refused += judged.isEmpty ? 0 : 1
            book.add(eventID: id, effective: Self.d(date), change)
        }
        #expect(refused == 6)
        let whole = PlaceBook(changes: book.changes)
        #expect(book.tree(on: Self.d("2017-01-01")) == whole.tree(on: Self.d("2017-01-01")) && book.latestEffective == Self.d("2016-07-01"))
    }

    @Test("a district merged into another takes its streets with it")
    func districtMerge() {
        var changes = Self.shanghai()
        changes.append((UUID(), Self.d("2011-06-01"), Self.change(.district, "静安区", action: .merge, within: "上海", into: "上海/黄浦区")))
        let book = PlaceBook(changes: changes)
        #expect(book.problems.isEmpty, "\(book.problems)")
        guard case .success = book.resolve(["上海", "黄浦区", "江宁路街道"], on: Self.d("2012-01-01")) else {
            Issue.record("江宁路街道 lies in 黄浦区 after the merge"); return
        }
        #expect(book.inForce(["上海", "静安区", "江宁路街道", "外滩社区"], from: Self.d("2010-01-01"), on: Self.d("2012-01-01"))
            == ["上海", "黄浦区", "江宁路街道", "外滩社区"])
    }

    @Test("structural validation: parent on the date, one name among siblings, the place renamed/merged/abolished exists, merge of the same kind")
    func validation() {
        let base = PlaceBook(changes: Self.shanghai())
        func problems(_ change: PlaceChange, on date: String) -> [String] {
            let id = UUID()
            return base.adding(eventID: id, effective: Self.d(date), change).problems[id] ?? []
        }
        #expect(problems(Self.change(.street, "新街道", within: "上海/黄浦区"), on: "2010-01-01").isEmpty)
        #expect(problems(Self.change(.street, "新街道", within: "上海/黄浦区"), on: "1999-01-01").first?.hasPrefix("within: 上海: no such city") == true)
        #expect(problems(Self.change(.street, "新街道", within: "上海/黄埔区"), on: "2010-01-01").first?.contains("did you mean 黄浦区?") == true)
        #expect(problems(Self.change(.community, "金陵社区", within: "上海/黄浦区/外滩街道"), on: "2010-01-01").first?.contains("exists") == true)
        #expect(problems(Self.change(.community, "无名社区", action: .rename, within: "上海/黄浦区/外滩街道", newName: "有名社区"), on: "2010-01-01").first?.contains("rename of 无名社区: no such community") == true)
        #expect(problems(Self.change(.community, "金陵社区", action: .rename, within: "上海/黄浦区/外滩街道", newName: "外滩社区"), on: "2010-01-01").first?.contains("exists") == true)
        #expect(problems(Self.change(.community, "金陵社区", action: .merge, within: "上海/黄浦区/外滩街道", into: "上海/黄浦区/外滩街道/无名社区"), on: "2010-01-01").first?.hasPrefix("into: 无名社区: no such community") == true)
        #expect(problems(Self.change(.community, "金陵社区", action: .merge, within: "上海/黄浦区/外滩街道", into: "上海/黄浦区/外滩街道"), on: "2010-01-01").first?.contains("merges into another community") == true)
        #expect(problems(Self.change(.street, "外滩街道", action: .abolish, within: "上海/黄浦区"), on: "2010-01-01").first?.contains("abolish or merge them first") == true)
        #expect(problems(Self.change(.community, "金陵社区", action: .abolish, within: "上海/黄浦区/外滩街道"), on: "2010-01-01").isEmpty)
        #expect(problems(Self.change(.district, "徐汇区"), on: "2010-01-01").first?.contains("within") == true)
    }

    @Test("edit distance counts characters, not bytes; suggestions are the close names only")
    func editDistance() {
        #expect(PlaceBook.editDistance("黄埔区", "黄浦区") == 1)
        #expect(PlaceBook.editDistance("", "静安区") == 3)
        #expect(PlaceBook.editDistance("Pudong", "Pudon") == 1)
        #expect(PlaceBook.closest(to: "黄埔区", among: ["黄浦区", "静安区", "徐汇区"]) == ["黄浦区"])
    }

    @Test("a place decision reads from JSON and goes to its city's or district's stream")
    func codec() throws {
        let district = try DecisionCodec.decode(json: #"{"decision":"place","action":"establish","kind":"district","name":"黄浦区","within":"上海","effective":"2000-01-01","authority":"上海市人民政府","reference":"沪府〔2000〕1号"}"#)
        #expect(district.stream == .jurisdiction("上海"))
        let community = try DecisionCodec.decode(json: #"{"decision":"place","action":"establish","kind":"community","name":"外滩社区","within":"上海/黄浦区/外滩街道","effective":"2000-01-01","authority":"a","reference":"r"}"#)
        #expect(community.stream == .jurisdiction("上海/黄浦区"))
        #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: #"{"decision":"place","action":"rename","kind":"city","name":"上海","effective":"2000-01-01","authority":"a","reference":"r"}"#)
        }
        #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: #"{"decision":"place","action":"establish","kind":"street","name":"外滩街道","within":"上海","effective":"2000-01-01","authority":"a","reference":"r"}"#)
        }
        #expect(throws: InvalidDecision.self) {
            try DecisionCodec.decode(json: #"{"decision":"place","jurisdiction":"上海/静安区","action":"establish","kind":"street","name":"外滩街道","within":"上海/黄浦区","effective":"2000-01-01","authority":"a","reference":"r"}"#)
        }
        // A temporary post may name where its community lies; old ones without it still read.
        let post = try DecisionCodec.decode(json: #"{"decision":"temporary-post","worker":"C1","name":"李雷","homeAgency":"区民政局","community":"外滩社区","street":"外滩街道","district":"黄浦区","city":"上海","role":"first-secretary","until":"2027-01-01","kind":"cadre","effective":"2026-01-01","authority":"a","reference":"r"}"#)
        guard case .temporaryPost(let body) = post.body else { Issue.record("a temporary post"); return }
        #expect(body.district == "黄浦区" && body.city == "上海")
        #expect(DecisionCodec.payload(of: post)["street"]?.stringValue == "外滩街道")
    }
}
