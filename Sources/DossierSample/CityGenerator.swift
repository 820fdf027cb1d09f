import DossierDomain
import Foundation

/// Simulates a city's community workers year by year and emits their decisions in date order.
struct CityGenerator {
    var random: Random
    let districtCount: Int
    let workersPerDistrict: Int
    let from: Int
    let to: Int
    let city = "上海"
    /// Whether the gazetteer (place decisions) is written first.
    var places = true
    var referenceCounter = 0
    var policy = PolicyBook()
    /// Draws for selection rounds and appeals, apart from `random` so that the rest of the
    /// sample is what it was before they were added.
    var roundsRandom: Random

    static let districtNames = [
        "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区", "宝山区", "嘉定区", "浦东新区", "金山区",
        "松江区", "青浦区", "奉贤区", "崇明区",
    ]
    static let streetNames = [
        "五里桥", "打浦桥", "淮海中路", "瑞金二路", "半淞园路", "小东门", "豫园", "老西门", "外滩", "南京东路", "临汾路", "彭浦新村",
        "虹桥", "仙霞新村", "浦兴路", "周家渡", "张江", "曹家渡", "江宁路", "石门二路",
    ]
    static let communityBases = ["长岛路", "汾西路", "虹储", "虹旭", "桥", "临汾路", "彭浦", "宜川", "曹杨", "金杨", "潍坊", "塘桥", "康健", "田林"]
    static let ordinals = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]
    static let surnames = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高", "施", "姚", "汪"]
    static let givenNames = [
        "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚",
        "桂英", "虹", "红萍", "秀勤", "菊丽", "逸庭", "屹佳", "仕敏", "美香",
    ]

    init(seed: UInt64, districts: Int, workersPerDistrict: Int, from: Int, to: Int) {
        self.random = Random(state: seed)
        self.roundsRandom = Random(state: seed &+ 0x5E1E_C710)
        self.districtCount = districts
        self.workersPerDistrict = workersPerDistrict
        self.from = from
        self.to = to
    }

    /// A community's place in the city.
    struct Seat {
        var placement: Decision.Placement
        var post: Post
        var role: Role
        var authority: String
        var districtCode: String
    }

    /// One worker being simulated.
    struct Sim {
        var id: String
        var seat: Seat
        var state: WorkerState
        var lastLevelChange: CalendarDate
        var active = true
    }

    /// A decision waiting to be written, with its order within the day.
    struct Pending {
        var date: CalendarDate
        var sequence: Int
        var object: JSONObject
    }

    mutating func nextReference(_ prefix: String, _ year: Int) -> String {
        referenceCounter += 1
        return "\(prefix)〔\(year)〕\(referenceCounter)号"
    }

    func date(_ year: Int, _ month: Int, _ day: Int) -> CalendarDate { CalendarDate(year: year, month: month, day: day)! }

    mutating func personName() -> String { random.pick(Self.surnames) + random.pick(Self.givenNames) }

    mutating func generate(emit: (JSONObject) -> Void) {
        var seats: [Seat] = []
        var districts: [(name: String, code: String, communities: [Decision.Placement])] = []
        for d in 0..<districtCount {
            let name = d < Self.districtNames.count ? Self.districtNames[d] : "新区\(d + 1)"
            let code = "D\(String(format: "%02d", d + 1))"
            let communityCount = max(1, workersPerDistrict / 10)
            let streetCount = max(1, communityCount / 8)
            var communities: [Decision.Placement] = []
            for c in 0..<communityCount {
                let street = Self.streetNames[(c % streetCount) % Self.streetNames.count] + (streetCount > Self.streetNames.count ? "\(c % streetCount)" : "") + "街道"
                let community = Self.communityBases[c % Self.communityBases.count]
                    + Self.ordinals[(c / Self.communityBases.count) % Self.ordinals.count]
                    + (c >= Self.communityBases.count * Self.ordinals.count ? "\(c)" : "") + "居民区"
                communities.append(Decision.Placement(community: community, street: street, district: name, city: city))
            }
            districts.append((name, code, communities))
            var slots = 0
            for community in communities where slots < workersPerDistrict {
                let roles: [(Post, Role)] = [(.principal, .partySecretary), (.principal, .committeeDirector), (.deputy, .deputySecretary), (.deputy, .deputyDirector)]
                    + Array(repeating: (.staff, .staff), count: 6)
                for (post, role) in roles where slots < workersPerDistrict {
                    seats.append(Seat(placement: community, post: post, role: role, authority: "\(name)\(community.street)办事处", districtCode: code))
                    slots += 1
                }
            }
        }

        // The gazetteer first: the city, its districts, streets and communities (and the
        // "…东" community each transfer below moves a worker to), so every placement is checked.
        let established = date(min(from, 2000), 1, 1)
        func place(_ kind: PlaceKind, _ name: String, within: String?, authority: String) {
            guard places else { return }
            var object = JSONObject([
                ("decision", .string("place")), ("action", .string("establish")), ("kind", .string(kind.rawValue)),
                ("name", .string(name)),
            ])
            if let within { object["within"] = .string(within) }
            object["effective"] = .string(established.description)
            object["authority"] = .string(authority)
            // Named by the place, so a second sample of the same city recognises it as recorded.
            object["reference"] = .string("地名:" + (within.map { $0 + "/" } ?? "") + name)
            emit(object)
        }
        place(.city, city, within: nil, authority: "上海市人民政府")
        for district in districts {
            place(.district, district.name, within: city, authority: "上海市人民政府")
        }
        for district in districts {
            var streets: [String] = []
            for community in district.communities where !streets.contains(community.street) { streets.append(community.street) }
            for street in streets {
                place(.street, street, within: "\(city)/\(district.name)", authority: "\(district.name)人民政府")
                for community in district.communities where community.street == street {
                    for name in [community.community, community.community + "东"] {
                        place(.community, name, within: "\(city)/\(district.name)/\(street)", authority: "\(district.name)\(street)办事处")
                    }
                }
            }
        }

        // Reference data first: populations with headroom over the quota, and local policy.
        var pending: [Pending] = []
        var sequence = 0
        func add(_ date: CalendarDate, _ object: JSONObject, into list: inout [Pending]) {
            sequence += 1
            list.append(Pending(date: date, sequence: sequence, object: object))
        }
        func districtPopulation(_ year: Int) -> Int {
            Int(Double(workersPerDistrict) * 10_000 / 18 * 1.6 * (1 + 0.01 * Double(year - from)))
        }
        // A city larger than a population decision may say (100 million: the 10-million-decision
        // bench city of 252,000 workers would need 224 million) gets no figure of its own, in no
        // year: its quota is then not checked, its districts' are.
        let cityFigures = districtPopulation(to) * districts.count <= 100_000_000
        for year in from...to {
            var cityPopulation = 0
            for district in districts {
                let population = districtPopulation(year)
                cityPopulation += population
                add(date(year, 1, 1), JSONObject([
                    ("decision", .string("population")), ("jurisdiction", .string("\(city)/\(district.name)")),
                    ("year", .integer(Int64(year))), ("urbanPopulation", .integer(Int64(population))),
                    ("effective", .string(date(year, 1, 1).description)), ("authority", .string("\(district.name)统计局")),
                    ("reference", .string("POP-\(district.code)-\(year)")),
                ]), into: &pending)
            }
            guard cityFigures else { continue }
            add(date(year, 1, 1), JSONObject([
                ("decision", .string("population")), ("jurisdiction", .string(city)), ("year", .integer(Int64(year))),
                ("urbanPopulation", .integer(Int64(cityPopulation))), ("effective", .string(date(year, 1, 1).description)),
                ("authority", .string("上海市统计局")), ("reference", .string("POP-\(year)")),
            ]), into: &pending)
        }
        let subsidyYear = min(to, from + 10)
        let subsidy = JSONObject([("social-worker", .integer(500)), ("senior-social-worker", .integer(800))])
        add(date(subsidyYear, 1, 1), JSONObject([
            ("decision", .string("policy")), ("jurisdiction", .string(city)),
            ("parameters", .object(JSONObject([("certificateSubsidy", .object(subsidy))]))),
            ("effective", .string(date(subsidyYear, 1, 1).description)), ("authority", .string("上海市民政局")),
            ("reference", .string("沪民规〔\(subsidyYear)〕1号")),
        ]), into: &pending)
        policy.add(
            PolicyParameters.Changes(jurisdiction: city, values: JSONObject([("certificateSubsidy", .object(subsidy))])),
            effective: date(subsidyYear, 1, 1), position: 0)
        pending.sort { ($0.date, $0.sequence) < ($1.date, $1.sequence) }
        for item in pending where item.date.year == from { emit(item.object) }
        var later = pending.filter { $0.date.year > from }

        // Workers: one per seat at the start, a replacement after each exit.
        var sims: [Sim] = []
        var vacancies: [(seat: Seat, from: CalendarDate)] = seats.map { ($0, date(from, random.int(1...12), random.int(1...28))) }
        var workerNumber: [String: Int] = [:]
        var cadreNumber = 0
        var scheduled: [Int: [Pending]] = [:]

        for year in from...to {
            var today: [Pending] = later.filter { $0.date.year == year }
            later.removeAll { $0.date.year == year }
            today += scheduled[year] ?? []

            // Fill vacancies that open this year.
            var stillVacant: [(seat: Seat, from: CalendarDate)] = []
            for vacancy in vacancies {
                guard vacancy.from.year <= year else {
                    stillVacant.append(vacancy)
                    continue
                }
                let hireDate = vacancy.from.year == year ? vacancy.from : date(year, random.int(1...6), random.int(1...28))
                workerNumber[vacancy.seat.districtCode, default: 0] += 1
                let id = "\(vacancy.seat.districtCode)-\(String(format: "%05d", workerNumber[vacancy.seat.districtCode]!))"
                var sim = Sim(id: id, seat: vacancy.seat, state: WorkerState(worker: id), lastLevelChange: hireDate)
                let education = random.pick(Education.allCases.filter { $0 != .doctorate })
                let level = min(18, 1 + Education.allCases.firstIndex(of: education)! * 2 + random.int(0...2) + (vacancy.seat.post == .principal ? 4 : 0))
                var hire = base("hire", sim, hireDate, authority: vacancy.seat.authority)
                hire["name"] = .string(personName())
                for (key, value) in [
                    ("community", vacancy.seat.placement.community), ("street", vacancy.seat.placement.street),
                    ("district", vacancy.seat.placement.district), ("city", vacancy.seat.placement.city),
                    ("post", vacancy.seat.post.rawValue), ("role", vacancy.seat.role.rawValue), ("education", education.rawValue),
                ] { hire[key] = .string(value) }
                hire["level"] = .integer(Int64(level))
                if apply(&sim, &hire) { add(hireDate, hire, into: &today) }
                var training = base("training", sim, hireDate, authority: vacancy.seat.authority)
                training["kind"] = .string("initial")
                training["hours"] = .integer(24)
                if apply(&sim, &training) { add(hireDate, training, into: &today) }
                sims.append(sim)
            }
            vacancies = stillVacant

            for index in sims.indices where sims[index].active {
                var sim = sims[index]
                simulateYear(&sim, year: year, into: &today, scheduled: &scheduled, add: { date, object, list in add(date, object, into: &list) })
                if !sim.active {
                    let exit = sim.state.exitDate ?? date(year, 12, 1)
                    let next = exit.adding(days: random.int(30...120)) ?? exit
                    if next.year <= to { vacancies.append((sim.seat, next)) }
                }
                sims[index] = sim
            }

            // Every other year, 15 December: a level-review round per district among the workers
            // on its roster; some passed over appeal (20 December), most appeals are ruled on.
            if (year - from) % 2 == 1 {
                for district in districts {
                    let when = date(year, 12, 15)
                    let pool = sims.filter {
                        $0.active && $0.state.isOnRoster && $0.seat.placement.district == district.name
                            && ($0.state.serviceStart.map { $0 < when } ?? false)
                    }.map(\.id)
                    guard pool.count >= 3 else { continue }
                    var chosen: [String] = []
                    while chosen.count < min(5, pool.count) {
                        let next = roundsRandom.pick(pool)
                        if !chosen.contains(next) { chosen.append(next) }
                    }
                    let selected = Array(chosen.prefix(roundsRandom.int(1...2)))
                    let passedOver = chosen.filter { !selected.contains($0) }
                    let selectionID = roundsRandom.uuid()
                    add(when, JSONObject([
                        ("decision", .string("selection")), ("jurisdiction", .string("\(city)/\(district.name)")),
                        ("for", .string("level-review")), ("selected", .array(selected.map(JSONValue.string))),
                        ("passedOver", .array(passedOver.map(JSONValue.string))), ("criteria", .string("连续两年考核优秀，任职满三年")),
                        ("effective", .string(when.description)), ("authority", .string("\(district.name)社会工作部")),
                        ("reference", .string("\(district.name)等级评定〔\(year)〕1号")), ("eventId", .string(selectionID.uuidString.lowercased())),
                    ]), into: &today)
                    for worker in passedOver where roundsRandom.chance(0.3) {
                        let appealID = roundsRandom.uuid()
                        add(date(year, 12, 20), JSONObject([
                            ("decision", .string("appeal")), ("worker", .string(worker)), ("against", .string(selectionID.uuidString.lowercased())),
                            ("grounds", .string(roundsRandom.pick(["考核结果认定有误", "评定程序不公开", "任职年限计算有误"]))),
                            ("effective", .string(date(year, 12, 20).description)), ("authority", .string("本人")),
                            ("reference", .string("申诉〔\(year)〕\(worker)")), ("eventId", .string(appealID.uuidString.lowercased())),
                        ]), into: &today)
                        guard roundsRandom.chance(0.7) else { continue }  // still open
                        add(date(year, 12, 28), JSONObject([
                            ("decision", .string("appeal-ruling")), ("worker", .string(worker)), ("appealed", .string(appealID.uuidString.lowercased())),
                            ("outcome", .string(roundsRandom.chance(0.5) ? "overturned" : "upheld")),
                            ("effective", .string(date(year, 12, 28).description)), ("authority", .string("\(district.name)人事争议仲裁委员会")),
                            ("reference", .string("仲裁〔\(year)〕\(worker)")),
                        ]), into: &today)
                    }
                }
            }

            // Cadres on temporary posts, from agencies, a few a year per district.
            for district in districts {
                for _ in 0..<max(1, workersPerDistrict / 200) {
                    cadreNumber += 1
                    let id = "C\(String(format: "%05d", cadreNumber))"
                    let start = date(year, random.int(2...10), random.int(1...28))
                    let until = start.adding(years: random.int(1...2))
                    let kind: TemporaryPostKind = random.chance(0.3) ? .newCivilServant : .cadre
                    let community = random.pick(district.communities)
                    add(start, JSONObject([
                        ("decision", .string("temporary-post")), ("worker", .string(id)), ("name", .string(personName())),
                        ("homeAgency", .string(random.pick(["\(district.name)民政局", "\(district.name)司法局", "\(district.name)卫健委", "市委组织部"]))),
                        ("community", .string(community.community)), ("street", .string(community.street)),
                        ("district", .string(community.district)), ("city", .string(community.city)),
                        ("role", .string(kind == .cadre ? "first-secretary" : "staff")),
                        ("until", .string(until.description)), ("kind", .string(kind.rawValue)),
                        ("effective", .string(start.description)), ("authority", .string("\(district.name)委组织部")),
                        ("reference", .string(nextReference("组派", year))),
                    ]), into: &today)
                    if until.year <= to {
                        let end = Pending(date: until, sequence: 0, object: JSONObject([
                            ("decision", .string("temporary-post-end")), ("worker", .string(id)),
                            ("effective", .string(until.description)), ("authority", .string("\(district.name)委组织部")),
                            ("reference", .string(nextReference("组派终", until.year))),
                        ]))
                        if until.year == year { add(until, end.object, into: &today) } else { scheduled[until.year, default: []].append(end) }
                    }
                }
            }

            today.sort { ($0.date, $0.sequence) < ($1.date, $1.sequence) }
            for item in today { emit(item.object) }
        }
    }

    /// The common fields of a worker decision, with a fresh reference.
    mutating func base(_ kind: String, _ sim: Sim, _ date: CalendarDate, authority: String) -> JSONObject {
        JSONObject([
            ("decision", .string(kind)), ("worker", .string(sim.id)), ("effective", .string(date.description)),
            ("authority", .string(authority)), ("reference", .string(nextReference(sim.seat.districtCode + "社", date.year))),
        ])
    }

    /// Applies a decision to the simulated state through the domain's rules; false (and the
    /// state unchanged) when it would break one.
    mutating func apply(_ sim: inout Sim, _ object: inout JSONObject) -> Bool {
        guard let decision = try? DecisionCodec.decode(.object(object)) else { return false }
        // Nothing happens to a worker before the hire (or on the day of an exit or after it).
        if decision.kind != .hire, let hired = sim.state.serviceStart, decision.effective < hired { return false }
        var copy = sim.state
        let context = RuleContext(policy: policy)
        let violations = copy.apply(decision, eventID: decision.eventID ?? UUID(), context: context)
        guard violations.isEmpty else { return false }
        sim.state = copy
        return true
    }

    mutating func simulateYear(
        _ sim: inout Sim, year: Int, into today: inout [Pending], scheduled: inout [Int: [Pending]],
        add: (CalendarDate, JSONObject, inout [Pending]) -> Void
    ) {
        let authority = sim.seat.authority
        let districtAuthority = "\(sim.seat.placement.district)社会工作部"
        var overturnedAtYearEnd: [UUID] = []
        defer { sim.state.misconducts.removeAll { overturnedAtYearEnd.contains($0.eventID) } }
        func emitIf(_ object: JSONObject, _ date: CalendarDate) {
            var object = object
            if apply(&sim, &object) { add(date, object, &today) }
        }
        // The previous year's annual assessment.
        if let hired = sim.state.firstHired, hired <= date(year - 1, 12, 31), sim.state.assessments[year - 1] == nil {
            let roll = random.int(1...100)
            let grade: Grade = roll <= 22 ? .excellent : roll <= 92 ? .competent : roll <= 98 ? .basicallyCompetent : .incompetent
            let when = date(year, 1, random.int(10...25))
            var assessment = base("assessment", sim, when, authority: authority)
            assessment["year"] = .integer(Int64(year - 1))
            assessment["grade"] = .string(grade.rawValue)
            let id = random.uuid()
            assessment["eventId"] = .string(id.uuidString.lowercased())
            let before = sim.state.assessments.count
            emitIf(assessment, when)
            // Some poor grades are corrected on review, years later.
            if sim.state.assessments.count > before, grade == .basicallyCompetent, random.chance(0.25) {
                let fixYear = min(to, year + random.int(1...4))
                let fixDate = date(fixYear, random.int(3...11), random.int(1...28))
                var correction = base("correction", sim, fixDate, authority: districtAuthority)
                correction["corrects"] = .string(id.uuidString.lowercased())
                correction["grade"] = .string(Grade.competent.rawValue)
                correction["reference"] = .string(nextReference("复核", fixYear))
                if fixYear == year { add(fixDate, correction, &today) } else {
                    scheduled[fixYear, default: []].append(Pending(date: fixDate, sequence: 0, object: correction))
                }
            }
        }
        guard sim.state.isOnRoster else { return }
        let parameters = policy.parameters(city: sim.seat.placement.city, district: sim.seat.placement.district, on: date(year, 2, 1))
        // Two excellent years in a row: one level up.
        if sim.state.eligibility(.levelUp, on: date(year, 2, 1), parameters).eligible, random.chance(0.8) {
            var change = base("level-change", sim, date(year, 2, 1), authority: districtAuthority)
            change["level"] = .integer(Int64(sim.state.level! + 1))
            change["grounds"] = .string("assessment")
            emitIf(change, date(year, 2, 1))
            sim.lastLevelChange = date(year, 2, 1)
        } else if sim.lastLevelChange.fullYears(until: date(year, 3, 1)) >= 3, (sim.state.level ?? 18) < 18, random.chance(0.6) {
            var change = base("level-change", sim, date(year, 3, 1), authority: districtAuthority)
            change["level"] = .integer(Int64(sim.state.level! + 1))
            change["grounds"] = .string("seniority")
            emitIf(change, date(year, 3, 1))
            sim.lastLevelChange = date(year, 3, 1)
        }
        // Training, and now and then a certificate.
        let trainingDate = date(year, random.int(4...6), random.int(1...28))
        var training = base("training", sim, trainingDate, authority: authority)
        training["kind"] = .string(random.pick(["on-the-job", "special", "practical"]))
        training["hours"] = .integer(Int64(random.int(8...40)))
        let trainingID = random.uuid()
        training["eventId"] = .string(trainingID.uuidString.lowercased())
        let trainingsBefore = sim.state.trainingHours.values.reduce(0, +)
        emitIf(training, trainingDate)
        if sim.state.trainingHours.values.reduce(0, +) > trainingsBefore, random.chance(0.01) {
            var rescission = base("rescission", sim, trainingDate.adding(days: 20)!, authority: authority)
            rescission["rescinds"] = .string(trainingID.uuidString.lowercased())
            rescission["grounds"] = .string("培训未实际参加,记录撤销")
            add(trainingDate.adding(days: 20)!, rescission, &today)
        }
        let highest = sim.state.highestCertificate
        let nextCertificate: Certificate? = highest == nil ? .assistantSocialWorker : highest == .assistantSocialWorker ? .socialWorker : highest == .socialWorker ? .seniorSocialWorker : nil
        if let nextCertificate, random.chance(nextCertificate == .seniorSocialWorker ? 0.02 : 0.08) {
            let when = date(year, 7, random.int(1...28))
            var qualification = base("qualification", sim, when, authority: "人力资源和社会保障部")
            qualification["certificate"] = .string(nextCertificate.rawValue)
            emitIf(qualification, when)
        }
        // Misconduct (in the autumn, after this year's public-institution decisions, which the
        // simulation judges first), and fault-tolerance rulings or appeals on it.
        if random.chance(0.015) {
            let when = date(year, 9, random.int(2...28))
            var misconduct = base("misconduct", sim, when, authority: authority)
            misconduct["description"] = .string(random.pick(["台账填报不实", "未按时完成入户走访", "处置纠纷方式不当", "违规使用公章"]))
            misconduct["sanction"] = .string(random.pick(["warning", "demerit", "major-demerit"]))
            let id = random.uuid()
            misconduct["eventId"] = .string(id.uuidString.lowercased())
            let before = sim.state.misconducts.count
            emitIf(misconduct, when)
            if sim.state.misconducts.count > before {
                let later = date(year, 11, random.int(1...28))
                if random.chance(0.6) {
                    var ruling = base("fault-tolerance", sim, later, authority: districtAuthority)
                    ruling["misconduct"] = .string(id.uuidString.lowercased())
                    ruling["ruling"] = .string(random.pick(["excused", "mitigated", "not-excused"]))
                    emitIf(ruling, later)
                } else if random.chance(0.3) {
                    var appeal = base("appeal-ruling", sim, later, authority: "\(sim.seat.placement.district)人事争议仲裁委员会")
                    appeal["appealed"] = .string(id.uuidString.lowercased())
                    let overturned = random.chance(0.4)
                    appeal["outcome"] = .string(overturned ? "overturned" : "upheld")
                    add(later, appeal, &today)
                    if overturned {
                        // Known from the ruling's date on: the rest of this year's simulation,
                        // written in an order other than the dates', must not count on it.
                        overturnedAtYearEnd.append(id)
                    }
                }
            }
        }
        // A secondment to the street, with the county social work department's approval.
        if random.chance(0.02), sim.state.status == .active {
            // Ends before the exits and transfers of the autumn, which are simulated after it.
            let start = date(year, 6, 1)
            let end = date(year, 8, 31)
            var secondment = base("secondment", sim, start, authority: authority)
            secondment["to"] = .string("\(sim.seat.placement.street)办事处")
            secondment["toLevel"] = .string(random.chance(0.8) ? "street" : "township")
            secondment["until"] = .string(end.description)
            secondment["approval"] = .string("\(sim.seat.placement.district)委社工部批〔\(year)〕\(random.int(1...99))号")
            emitIf(secondment, start)
            var back = base("secondment-end", sim, end, authority: authority)
            back["reference"] = .string(nextReference("借调终", year))
            emitIf(back, end)
        }
        // A secretary with the years and the record joins a public institution.
        if sim.state.role?.isPartySecretary == true, sim.state.establishment == .communityWorker,
            sim.state.eligibility(.publicInstitution, on: date(year, 7, 1), parameters).eligible, random.chance(0.4)
        {
            emitIf(base("public-institution", sim, date(year, 7, 1), authority: "\(sim.seat.placement.district)人力资源和社会保障局"), date(year, 7, 1))
        }
        // Exits.
        let exitDate = date(year, 10, random.int(1...28))
        let latest = sim.state.assessmentsByYear.last
        if latest?.grade == .incompetent, random.chance(0.6) {
            var dismissal = base("dismissal", sim, exitDate, authority: authority)
            dismissal["grounds"] = .string("年度考核不称职")
            let id = random.uuid()
            dismissal["eventId"] = .string(id.uuidString.lowercased())
            var probe = sim
            guard apply(&probe, &dismissal) else { return }
            add(exitDate, dismissal, &today)
            if random.chance(0.3) {
                // Ruled before the level-review round of 15 December, which names only workers on
                // the roster as their records stand then (an overturned dismissal counts from the ruling).
                let ruling = date(year, 12, random.int(1...14))
                var appeal = base("appeal-ruling", sim, ruling, authority: "\(sim.seat.placement.district)人事争议仲裁委员会")
                appeal["appealed"] = .string(id.uuidString.lowercased())
                appeal["reference"] = .string(nextReference("仲裁", year))
                if random.chance(0.4) {
                    appeal["outcome"] = .string("overturned")
                    add(ruling, appeal, &today)
                    return  // the dismissal is void: the worker stays
                }
                appeal["outcome"] = .string("upheld")
                add(ruling, appeal, &today)
            }
            sim = probe
            sim.active = false
            return
        }
        let roll = random.int(1...1000)
        let exitKind: String? =
            roll <= 20 ? "resignation"
            : roll <= 25 ? "civil-service"
            : (roll <= 35 && sim.state.serviceStart.map { $0.fullYears(until: exitDate) >= 15 } == true) ? "retirement"
            : (roll <= 38 && sim.state.role?.isPartySecretary == true) ? "street-leadership" : nil
        if let exitKind {
            var exit = base(exitKind, sim, exitDate, authority: exitKind == "street-leadership" ? "\(sim.seat.placement.district)委组织部" : authority)
            _ = apply(&sim, &exit)
            if !sim.state.isOnRoster {
                add(exitDate, exit, &today)
                sim.active = false
                return
            }
        }
        // Now and then a transfer to another community of the district.
        if random.chance(0.01), sim.state.status == .active, sim.seat.post == .staff {
            let when = date(year, 9, 1)
            var transfer = base("transfer", sim, when, authority: "\(sim.seat.placement.district)社会工作部")
            transfer["community"] = .string(sim.seat.placement.community + "东")
            transfer["street"] = .string(sim.seat.placement.street)
            transfer["district"] = .string(sim.seat.placement.district)
            emitIf(transfer, when)
        }
    }
}
