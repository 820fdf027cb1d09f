/// The policy parameters Dossier's rules read, as in force for one jurisdiction on one date.
///
/// Policy is data: each number here is a default from the national Opinions and the Shanghai
/// practice of the seed document, and a `policy` decision in the ledger can change any of them
/// from an effective date, nationally (`*`), for a city (`Shanghai`) or for a district
/// (`Shanghai/Huangpu`). The most specific jurisdiction wins; within one, the latest in force.
public struct PolicyParameters: Sendable, Equatable {
    /// Community workers per 10,000 urban permanent residents.
    public var quotaPerTenThousand = 18
    /// The highest level (levels run from 1).
    public var maxLevel = 18
    /// The roles each post category may hold.
    public var postRoles: [Post: Set<Role>] = [
        .principal: [.partySecretary, .committeeDirector, .secretaryDirector],
        .deputy: [.deputySecretary, .deputyDirector],
        .staff: [.committeeMember, .staff],
    ]
    /// Consecutive excellent annual assessments that earn one level (Huangpu practice: 2).
    public var levelUpConsecutiveExcellent = 2
    /// Full years of community service needed before a level-up on assessment grounds.
    public var levelUpMinServiceYears = 2
    /// Full years of continuous community work for a secretary to join a public institution.
    public var publicInstitutionServiceYears = 10
    /// One full term as community party organisation secretary, in years.
    public var secretaryTermYears = 5
    /// Monthly subsidy by social work certificate, in yuan (illustrative defaults).
    public var certificateSubsidy: [Certificate: Int] = [
        .assistantSocialWorker: 200, .socialWorker: 400, .seniorSocialWorker: 600,
    ]
    /// Bodies at this level or above may not second community workers.
    public var secondmentForbiddenFrom = SecondmentLevel.county
    /// Secondments to these levels need the county party committee social work department's approval.
    public var secondmentApprovalRequired: Set<SecondmentLevel> = [.street, .township]
    /// A level-down needs a cause (an unexcused demerit or a below-competent assessment) this recent.
    public var levelDownLookbackYears = 2
    /// An unexcused major demerit this recent puts a worker up for exit review.
    public var exitReviewLookbackYears = 2
    /// Days after a misconduct's effective date by which a fault-tolerance ruling (excused,
    /// mitigated or not-excused) is due; `dossier due` lists a misconduct still unruled then.
    /// Default 60: about the time local fault-tolerance procedures give to apply for a ruling and
    /// to decide on it (weeks, counted in working days), and the 60 days the Administrative
    /// Reconsideration Law gives a reviewing body to decide. Not a number of the Opinions: a
    /// jurisdiction sets its own with a `policy` decision.
    public var faultRulingDays = 60
    /// Full years at the current level for one level up on seniority grounds (one level a step).
    /// Default 3: ours, not a number of the Opinions. The Opinions have levels rise with years
    /// of service and with performance; Huangpu gives one level for two consecutive excellent
    /// assessments (two years at best), so seniority alone moves more slowly than performance,
    /// and 17 steps of 3 years keep the top of the 18 levels for those who also perform.
    public var seniorityYearsPerLevel = 3

    public init() {}

    /// The defaults, built once.
    public static let defaults = PolicyParameters()

    /// The parameter names a `policy` decision may set, with what each takes.
    public static let parameterNames: [String: String] = [
        "quotaPerTenThousand": "a whole number from 1 to 1000",
        "maxLevel": "a whole number from 1 to 18",
        "postRoles": "an object from post (principal, deputy, staff) to a list of roles",
        "levelUpConsecutiveExcellent": "a whole number from 1 to 10",
        "levelUpMinServiceYears": "a whole number from 0 to 50",
        "publicInstitutionServiceYears": "a whole number from 0 to 50",
        "secretaryTermYears": "a whole number from 1 to 20",
        "certificateSubsidy": "an object from certificate to yuan per month (0 to 100000)",
        "secondmentForbiddenFrom": "a secondment level (street, township, county, city, province, central)",
        "secondmentApprovalRequired": "a list of secondment levels",
        "levelDownLookbackYears": "a whole number from 0 to 50",
        "exitReviewLookbackYears": "a whole number from 0 to 50",
        "faultRulingDays": "a whole number of days from 1 to 3650",
        "seniorityYearsPerLevel": "a whole number of years from 1 to 20",
    ]

    /// A `policy` decision's content: where it applies and the parameters it sets.
    public struct Changes: Sendable, Equatable {
        /// `*` for everywhere, a city, or `City/District`.
        public var jurisdiction: String
        /// Validated parameter values, by name.
        public var values: JSONObject

        public init(jurisdiction: String, values: JSONObject) {
            self.jurisdiction = jurisdiction
            self.values = values
        }
    }

    /// Checks the parameters of a `policy` decision; every problem is named.
    static func validate(_ values: JSONObject) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        func bad(_ key: String, _ found: JSONValue) {
            problems.append(
                FieldProblem(
                    field: "parameters.\(key)",
                    message: "expected \(parameterNames[key]!), found \(found.stringValue.map { "\"\($0.prefix(30))\"" } ?? found.typeName)"))
        }
        if values.isEmpty {
            problems.append(FieldProblem(field: "parameters", message: "must set at least one parameter"))
        }
        for (key, value) in values {
            switch key {
            case "quotaPerTenThousand", "maxLevel", "levelUpConsecutiveExcellent", "levelUpMinServiceYears",
                "publicInstitutionServiceYears", "secretaryTermYears", "levelDownLookbackYears", "exitReviewLookbackYears":
                let range: ClosedRange<Int64> =
                    switch key {
                    case "quotaPerTenThousand": 1...1000
                    case "maxLevel": 1...18
                    case "levelUpConsecutiveExcellent": 1...10
                    case "secretaryTermYears": 1...20
                    default: 0...50
                    }
                guard case .integer(let number) = value, range.contains(number) else { bad(key, value); continue }
            case "faultRulingDays":
                guard case .integer(let days) = value, (1...3650).contains(days) else { bad(key, value); continue }
            case "seniorityYearsPerLevel":
                guard case .integer(let years) = value, (1...20).contains(years) else { bad(key, value); continue }
            case "postRoles":
                guard case .object(let map) = value, !map.isEmpty,
                    map.allSatisfy({ member in
                        Post(rawValue: member.key) != nil
                            && {
                                guard case .array(let roles) = member.value, !roles.isEmpty else { return false }
                                return roles.allSatisfy { $0.stringValue.flatMap(Role.init(rawValue:)) != nil }
                            }()
                    })
                else { bad(key, value); continue }
            case "certificateSubsidy":
                guard case .object(let map) = value, !map.isEmpty,
                    map.allSatisfy({ member in
                        guard Certificate(rawValue: member.key) != nil, case .integer(let amount) = member.value else {
                            return false
                        }
                        return (0...100_000).contains(amount)
                    })
                else { bad(key, value); continue }
            case "secondmentForbiddenFrom":
                guard value.stringValue.flatMap(SecondmentLevel.init(rawValue:)) != nil else { bad(key, value); continue }
            case "secondmentApprovalRequired":
                guard case .array(let levels) = value,
                    levels.allSatisfy({ $0.stringValue.flatMap(SecondmentLevel.init(rawValue:)) != nil })
                else { bad(key, value); continue }
            default:
                problems.append(
                    FieldProblem(
                        field: "parameters.\(key)",
                        message: "is not a policy parameter (known: \(parameterNames.keys.sorted().joined(separator: ", ")))"
                    ))
            }
        }
        return problems
    }

    /// These parameters with a validated set of changes applied.
    func applying(_ values: JSONObject) -> PolicyParameters {
        var result = self
        for (key, value) in values {
            let number: Int? = if case .integer(let n) = value { Int(n) } else { nil }
            switch key {
            case "quotaPerTenThousand": result.quotaPerTenThousand = number ?? result.quotaPerTenThousand
            case "maxLevel": result.maxLevel = number ?? result.maxLevel
            case "levelUpConsecutiveExcellent": result.levelUpConsecutiveExcellent = number ?? result.levelUpConsecutiveExcellent
            case "levelUpMinServiceYears": result.levelUpMinServiceYears = number ?? result.levelUpMinServiceYears
            case "publicInstitutionServiceYears":
                result.publicInstitutionServiceYears = number ?? result.publicInstitutionServiceYears
            case "secretaryTermYears": result.secretaryTermYears = number ?? result.secretaryTermYears
            case "levelDownLookbackYears": result.levelDownLookbackYears = number ?? result.levelDownLookbackYears
            case "exitReviewLookbackYears": result.exitReviewLookbackYears = number ?? result.exitReviewLookbackYears
            case "faultRulingDays": result.faultRulingDays = number ?? result.faultRulingDays
            case "seniorityYearsPerLevel": result.seniorityYearsPerLevel = number ?? result.seniorityYearsPerLevel
            case "postRoles":
                guard case .object(let map) = value else { continue }
                for (post, roles) in map {
                    guard let post = Post(rawValue: post), case .array(let list) = roles else { continue }
                    result.postRoles[post] = Set(list.compactMap { $0.stringValue.flatMap(Role.init(rawValue:)) })
                }
            case "certificateSubsidy":
                guard case .object(let map) = value else { continue }
                for (certificate, amount) in map {
                    guard let certificate = Certificate(rawValue: certificate), case .integer(let yuan) = amount else {
                        continue
                    }
                    result.certificateSubsidy[certificate] = Int(yuan)
                }
            case "secondmentForbiddenFrom":
                result.secondmentForbiddenFrom =
                    value.stringValue.flatMap(SecondmentLevel.init(rawValue:)) ?? result.secondmentForbiddenFrom
            case "secondmentApprovalRequired":
                guard case .array(let list) = value else { continue }
                result.secondmentApprovalRequired = Set(list.compactMap { $0.stringValue.flatMap(SecondmentLevel.init(rawValue:)) })
            default:
                continue
            }
        }
        return result
    }
}

/// Every policy decision in force, for looking up the parameters of a jurisdiction on a date.
public struct PolicyBook: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var jurisdiction: String
        var effective: CalendarDate
        var position: Int64
        var values: JSONObject
    }

    var entries: [Entry] = [] {
        didSet { lookups = Lookups() }
    }
    /// Lookups already made, shared by copies of the same book (a changed book gets new ones).
    private var lookups = Lookups()

    public init() {}

    public static func == (lhs: PolicyBook, rhs: PolicyBook) -> Bool { lhs.entries == rhs.entries }

    /// The book of the policy stream's events (corrections applied, rescinded ones left out).
    public init(events: [RecordedEvent]) {
        for event in JurisdictionRecord.inForce(events) where event.type == DecisionKind.policy.rawValue {
            guard let jurisdiction = event.payload["jurisdiction"]?.stringValue,
                let values = event.payload["parameters"]?.objectValue
            else { continue }
            entries.append(Entry(jurisdiction: jurisdiction, effective: event.effective, position: event.position, values: values))
        }
    }

    /// Adds a policy decision (for imports, before it is stored).
    public mutating func add(_ changes: PolicyParameters.Changes, effective: CalendarDate, position: Int64) {
        entries.append(Entry(jurisdiction: changes.jurisdiction, effective: effective, position: position, values: changes.values))
    }

    /// Every date a policy decision takes effect, in order.
    public var effectiveDates: [CalendarDate] {
        guard !entries.isEmpty else { return [] }
        return lookups.dates(of: entries)
    }

    /// The parameters in force on `date` for a worker in `district` of `city`.
    ///
    /// Interned: the answer depends only on the jurisdiction and on how many of the book's
    /// effective dates have come by `date`, so each (city, district, that count) is computed once.
    public func parameters(city: String?, district: String?, on date: CalendarDate) -> PolicyParameters {
        guard !entries.isEmpty else { return PolicyParameters.defaults }
        return lookups.parameters(city: city, district: district, on: date, book: self)
    }

    /// The parameters computed from the entries (what `parameters` interns).
    func computeParameters(city: String?, district: String?, on date: CalendarDate) -> PolicyParameters {
        var parameters = PolicyParameters.defaults
        guard !entries.isEmpty else { return parameters }
        var scopes = ["*"]
        if let city {
            scopes.append(city)
            if let district { scopes.append(city + "/" + district) }
        }
        for scope in scopes {
            for entry in sortedEntries(scope) where entry.effective <= date {
                parameters = parameters.applying(entry.values)
            }
        }
        return parameters
    }

    /// The entries of one scope in the order they apply.
    func sortedEntries(_ scope: String) -> [Entry] {
        entries.filter { $0.jurisdiction == scope }.sorted { ($0.effective, $0.position) < ($1.effective, $1.position) }
    }
}

import Foundation

/// The recorded urban permanent population of each jurisdiction, by year, for quotas.
public struct PopulationBook: Sendable, Equatable {
    /// jurisdiction → year → (population, effective date)
    var records: [String: [Int: (Int, CalendarDate)]] = [:]

    public init() {}

    public static func == (lhs: PopulationBook, rhs: PopulationBook) -> Bool {
        lhs.records.mapValues { $0.mapValues(\.0) } == rhs.records.mapValues { $0.mapValues(\.0) }
    }

    /// Records a population figure (a later record for the same year replaces the earlier).
    public mutating func record(jurisdiction: String, year: Int, urbanPopulation: Int, effective: CalendarDate) {
        records[jurisdiction, default: [:]][year] = (urbanPopulation, effective)
    }

    /// Reads the `population` events of jurisdiction streams, in log order (corrections
    /// applied, rescinded ones left out).
    public mutating func add(events: [RecordedEvent]) {
        for event in JurisdictionRecord.inForce(events) where event.type == DecisionKind.population.rawValue {
            guard case .integer(let year)? = event.payload["year"],
                case .integer(let population)? = event.payload["urbanPopulation"]
            else { continue }
            record(
                jurisdiction: event.stream.subject, year: Int(year), urbanPopulation: Int(population),
                effective: event.effective)
        }
    }

    /// The latest figure in force on `date`: the greatest year not after `date`'s year, among
    /// records effective by then.
    public func urbanPopulation(of jurisdiction: String, on date: CalendarDate) -> (year: Int, population: Int)? {
        guard let years = records[jurisdiction] else { return nil }
        let candidates = years.filter { $0.key <= date.year && $0.value.1 <= date }
        guard let best = candidates.max(by: { $0.key < $1.key }) else { return nil }
        return (best.key, best.value.0)
    }

    /// Every figure of a jurisdiction, by year.
    public func figures(of jurisdiction: String) -> [(year: Int, population: Int, effective: CalendarDate)] {
        (records[jurisdiction] ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value.0, $0.value.1) }
    }

    /// The jurisdictions with any figure.
    public var jurisdictions: [String] { records.keys.sorted() }
}

extension PolicyBook {
    /// The interned lookups of one book. Thread-safe: folds on several threads share a book.
    final class Lookups: @unchecked Sendable {
        struct Key: Hashable {
            var city: String?
            var district: String?
            /// How many of the book's effective dates are on or before the date asked about.
            var reached: Int
        }

        private let lock = NSLock()
        private var sortedDates: [CalendarDate]?
        private var memo: [Key: PolicyParameters] = [:]

        func dates(of entries: [Entry]) -> [CalendarDate] {
            lock.lock()
            defer { lock.unlock() }
            if let sortedDates { return sortedDates }
            let dates = Array(Set(entries.map(\.effective))).sorted()
            sortedDates = dates
            return dates
        }

        func parameters(city: String?, district: String?, on date: CalendarDate, book: PolicyBook) -> PolicyParameters {
            let dates = dates(of: book.entries)
            // The number of effective dates on or before `date` (binary search).
            var low = 0
            var high = dates.count
            while low < high {
                let middle = (low + high) / 2
                if dates[middle] <= date { low = middle + 1 } else { high = middle }
            }
            let key = Key(city: city, district: city == nil ? nil : district, reached: low)
            lock.lock()
            if let known = memo[key] {
                lock.unlock()
                return known
            }
            lock.unlock()
            let computed = book.computeParameters(city: city, district: district, on: date)
            lock.lock()
            memo[key] = computed
            lock.unlock()
            return computed
        }
    }
}
