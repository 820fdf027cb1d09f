import ArgumentParser
import DossierDomain
import DossierStore
import Foundation
import PostgresClient

extension Dossier {
    /// Brings the projections up to date with the log.
    struct Project: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply new events to the projections (queries do this themselves before answering).")

        @Flag(help: "Keep following the log and apply each event as it commits.")
        var follow = false

        @Option(help: "Events applied per transaction.")
        var batch = 5000

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let configuration = try database.configuration()
                let session = PostgresSession.open(configuration, role: .person, label: "dossier.project")
                let progress = ProgressLine()
                let started = Date()
                let dropped = try await session.run { try Projector.dropLeftovers($0) }
                if dropped > 0 { CLI.print("dropped \(dropped) tables an interrupted rebuild left behind") }
                let report = try await session.run { connection in
                    try Projector.catchUp(connection, batchSize: batch, progress: { progress.update($0, done: $1, total: $2) })
                }
                progress.finish()
                let seconds = Date().timeIntervalSince(started)
                CLI.print("applied \(report.applied) events up to position \(report.position) in \(String(format: "%.2f", seconds)) s")
                guard follow else { return }
                // Follows until stopped; a lost connection (a server restart) is waited out, not fatal.
                var position = report.position
                while true {
                    do {
                        for try await event in EventStore(configuration).subscribe(after: position) {
                            let lag = try await session.run { connection -> Double in
                                try Projector.catchUp(connection, batchSize: batch)
                                return Date().timeIntervalSince1970 - Double(event.recordedAt.microsecondsSinceEpoch) / 1_000_000
                            }
                            position = max(position, event.position)
                            CLI.print("position \(event.position) applied, \(String(format: "%.1f", lag * 1000)) ms after it was recorded")
                        }
                        return
                    } catch where StoreError.isLostConnection(error) {
                        CLI.printError("the connection to the database broke (\(CLI.explain(error).0)); following again when it answers")
                        position = try await Dossier.reconnect(session, batch: batch)
                        CLI.printError("following again from position \(position)")
                    }
                }
            }
        }
    }

    /// Waits (trying every second) until the database answers again and the projections are
    /// caught up; returns their position.
    static func reconnect(_ session: PostgresSession, batch: Int) async throws -> Int64 {
        while true {
            try await Task.sleep(for: .seconds(1))
            do {
                return try await session.run { try Projector.catchUp($0, batchSize: batch).position }
            } catch where StoreError.isLostConnection(error) {
                continue
            }
        }
    }
}

extension Dossier {
    /// Rebuilds projections from the log.
    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild projections from the log into fresh tables and swap them in atomically.",
            discussion: "PROJECTION is one of \(ProjectionName.allCases.map(\.rawValue).joined(separator: ", ")), or placements (the spans quota checks read); all the read side when omitted.")

        @Argument(help: "The projection to rebuild (default: all of the read side).")
        var projection: String?

        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if let projection, projection != "placements", ProjectionName(rawValue: projection) == nil {
                throw ValidationError(
                    "unknown projection \"\(projection)\"; known: \((ProjectionName.allCases.map(\.rawValue) + ["placements"]).joined(separator: ", "))")
            }
        }

        func run() async throws {
            try await CLI.run {
                let session = PostgresSession.open(try database.configuration(), role: .person, label: "dossier.rebuild")
                let progress = ProgressLine()
                let update: Projector.Progress = { progress.update($0, done: $1, total: $2) }
                if projection == "placements" {
                    let spans = try await session.run { try Projector.rebuildPlacements($0, progress: update) }
                    progress.finish()
                    CLI.print("rebuilt placements: \(spans) spans")
                    return
                }
                let only = projection.flatMap(ProjectionName.init(rawValue:)).map { Set([$0]) } ?? Set(ProjectionName.allCases)
                let rebuilt: Projector.Rebuilt
                do {
                    rebuilt = try await session.run { try Projector.rebuild($0, only: only, progress: update) }
                } catch StoreError.unavailable(let reason) {
                    progress.finish()
                    throw UserError(
                        description: "the connection to the database broke during the rebuild (\(reason)). The projections "
                            + "are as they were, or, if it broke while the new tables were being swapped in, wholly rebuilt: "
                            + "never a mix (the swap is one transaction). `dossier project` says where they stand and drops "
                            + "the partial tables left behind; run the rebuild again to finish it.",
                        exit: Exit.database)
                }
                progress.finish()
                let rate = Double(rebuilt.events) / max(rebuilt.seconds, 0.001)
                CLI.print(
                    "rebuilt \(only.map(\.rawValue).sorted().joined(separator: ", ")) from \(rebuilt.events) events in "
                        + "\(rebuilt.streams) streams up to position \(rebuilt.position): \(String(format: "%.2f", rebuilt.seconds)) s, "
                        + "\(Int(rate)) events/s")
            }
        }
    }

    /// Options naming a place.
    struct PlaceOptions: ParsableArguments {
        @Option(help: "City.") var city: String?
        @Option(help: "District.") var district: String?
        @Option(help: "Street (sub-district).") var street: String?
        @Option(help: "Community.") var community: String?

        var place: ReadModel.Place { ReadModel.Place(city: city, district: district, street: street, community: community) }
    }

    static func table(_ entries: [ReadModel.RosterEntry], reason: Bool) -> String {
        guard !entries.isEmpty else { return "(none)" }
        let named = entries.contains { $0.name != nil }
        let rows = entries.map { entry in
            [entry.worker] + (named ? [entry.name ?? "—"] : [])
                + [entry.status, entry.post.map { "\($0) (\(entry.role ?? "—"))" } ?? "—", entry.level.map(String.init) ?? "—",
                   "\(entry.community), \(entry.street), \(entry.district)"] + (reason ? [entry.reason ?? ""] : [])
        }
        let header = ["worker"] + (named ? ["name"] : []) + ["status", "post", "level", "community"] + (reason ? ["reason"] : [])
        return columns([header] + rows) + "\n\(entries.count) worker" + (entries.count == 1 ? "" : "s")
    }

    /// Rows of cells as aligned columns, two spaces apart, the last column unpadded. Widths are
    /// those a terminal shows: a Chinese character takes two columns.
    static func columns(_ rows: [[String]]) -> String {
        func width(_ text: String) -> Int {
            text.unicodeScalars.reduce(0) { sum, scalar in
                switch scalar.value {
                case 0x0300...0x036F, 0x200B...0x200F: sum
                case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
                     0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x20000...0x3FFFD:
                    sum + 2
                default: sum + 1
                }
            }
        }
        let count = rows.map(\.count).max() ?? 0
        let widths = (0..<count).map { column in rows.map { column < $0.count ? width($0[column]) : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { cell in
                cell.offset == row.count - 1 ? cell.element : cell.element + String(repeating: " ", count: widths[cell.offset] - width(cell.element) + 2)
            }.joined()
        }.joined(separator: "\n")
    }

    /// Lists the workers on a roster.
    struct Roster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the workers on the roster of a place on a date, as known at a time.")

        @OptionGroup var place: PlaceOptions
        @Option(name: .customLong("as-of"), help: "The date (default today).") var asOf: String?
        @Option(name: .customLong("known-at"), help: "Only what was recorded by then (YYYY-MM-DD or ISO 8601).") var knownAt: String?
        @Option(help: ArgumentHelp(
            "Only workers whose name contains this text (names are read only by roles that may; each read is logged).",
            valueName: "TEXT"))
        var name: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                if let name, name.trimmingCharacters(in: .whitespaces).isEmpty {
                    throw UserError(description: "--name needs part of a name")
                }
                let model = ReadModel(try database.configuration())
                defer { CLI.noteLag(model) }
                var where_ = place.place
                if where_.city == nil, let district = where_.district {
                    // A bare district name that names one district: its city too.
                    let resolved = try await CLI.resolvedJurisdiction(district, database, option: "--district")
                    if let resolved, resolved.contains("/") {
                        where_.city = String(resolved.split(separator: "/")[0])
                    }
                }
                var entries = try await model.roster(place: where_, asOf: date, knownAt: time)
                // Names for the roles that may read them (hr in scope, reviewers, admins).
                let names = try await model.names(of: entries.map(\.worker), purpose: "roster")
                for index in entries.indices { entries[index].name = names[entries[index].worker] }
                if let name {
                    if names.isEmpty && !entries.isEmpty {
                        throw UserError(description: "--name: this login may not read names")
                    }
                    entries = entries.filter { $0.name?.contains(name) == true }
                }
                output.print(
                    table: { Dossier.table(entries, reason: false) }, json: { JSONValue.array(entries.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.RosterEntry.csvHeader, csvRows: { entries.map(\.csvRow) })
            }
        }
    }

    /// Lists candidates for a level-up or public institution, or exit-review cases.
    struct Eligible: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List level-up candidates, public-institution candidates or exit-review cases, each with the reason.")

        @Option(name: .customLong("for"), help: "level-up, public-institution or exit-review.") var kind: String
        @OptionGroup var place: PlaceOptions
        @Option(name: .customLong("as-of"), help: "The date (default today).") var asOf: String?
        @Option(name: .customLong("known-at"), help: "Only what was recorded by then.") var knownAt: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard EligibilityKind(rawValue: kind) != nil else {
                throw ValidationError("--for takes level-up, public-institution or exit-review, not \"\(kind)\"")
            }
        }

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let entries = try await model.eligible(
                    EligibilityKind(rawValue: kind)!, place: place.place, asOf: date, knownAt: time)
                output.print(
                    table: { Dossier.table(entries, reason: true) }, json: { JSONValue.array(entries.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.RosterEntry.csvHeader, csvRows: { entries.map(\.csvRow) })
            }
        }
    }

    /// Shows headcount against quota.
    struct Quota: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Headcount against the quota (18 per 10,000 urban residents, or the ratio in force) per district and city.",
            discussion: """
                For each district and city: workers on the roster, workers per 10,000 urban residents, the approved \
                total (the population figure in force times the ratio in force, over 10,000) and the gap to it: a \
                shortfall when below, over the ceiling total control sets when above. A jurisdiction with no population \
                figure in force has an unknown quota ("no population figure"), never a met one.
                """)

        @Option(help: "One jurisdiction: City or City/District.") var jurisdiction: String?
        @Option(name: .customLong("as-of"), help: "The date (default today).") var asOf: String?
        @Option(name: .customLong("known-at"), help: "Only what was recorded by then (YYYY-MM-DD or ISO 8601).") var knownAt: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let jurisdiction = try await CLI.resolvedJurisdiction(self.jurisdiction, database)
                let lines = try await CLI.inKnownJurisdiction(jurisdiction) {
                    try await model.quota(jurisdiction: jurisdiction, asOf: date, knownAt: time)
                }
                output.print(
                    table: { Self.table(lines, asOf: date, knownAt: time) },
                    json: { JSONValue.array(lines.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.QuotaLine.csvHeader, csvRows: { lines.map(\.csvRow) })
            }
        }

        static func table(_ lines: [ReadModel.QuotaLine], asOf date: CalendarDate, knownAt: Timestamp?) -> String {
            guard !lines.isEmpty else { return "(no jurisdiction)" }
            let title = "quota on \(date)" + (knownAt.map { ", as known at \($0)" } ?? "")
            let header = ["jurisdiction", "headcount", "per 10,000", "quota", "gap", "basis"]
            let rows = lines.map { line -> [String] in
                let gap: String =
                    switch line.standing {
                    case .noFigure: "unknown: no population figure"
                    case .below: "\(line.gap!) short"
                    case .at: "at quota"
                    case .over: "\(-line.gap!) OVER QUOTA"
                    }
                let basis = line.quota == nil ? "—" : "\(line.perTenThousand!) per 10,000 of \(line.urbanPopulation!) (\(line.year!))"
                return [line.jurisdiction, String(line.headcount), line.ratio ?? "—", line.quota.map(String.init) ?? "—", gap, basis]
            }
            return title + "\n" + Dossier.columns([header] + rows)
        }
    }

    /// Reports for auditors.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reports over time for auditors.", subcommands: [Headcount.self])

        /// Year-end headcounts and ratios over a range of years.
        struct Headcount: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Year-end (31 December) headcounts, workers per 10,000 urban residents, quota and gap, year by year.",
                discussion: """
                    By district (each city's line included) or by street (headcount only: streets have no population \
                    figure). The same figures as `SELECT * FROM dossier_read.headcount_by_year(FROM, TO, 'district')` in psql.
                    """)

            @Option(help: "The first year (e.g. 2015).") var from: Int
            @Option(help: "The last year (e.g. 2025).") var to: Int
            @Option(help: "district (the default) or street.") var by: String = "district"
            @Option(help: "Only this City or City/District (and what lies in it).") var jurisdiction: String?
            @Option(name: .customLong("known-at"), help: "Only what was recorded by then (YYYY-MM-DD or ISO 8601).") var knownAt: String?
            @OptionGroup var output: OutputFormat
            @OptionGroup var database: DatabaseOptions

            func validate() throws {
                guard (1900...2200).contains(from), (1900...2200).contains(to) else {
                    throw ValidationError("--from and --to take years from 1900 to 2200")
                }
                guard from <= to else { throw ValidationError("--from \(from) is after --to \(to): give the earlier year first") }
                guard to - from < 100 else { throw ValidationError("--from \(from) --to \(to): at most 100 years at a time") }
                guard ReadModel.HeadcountGrouping(rawValue: by) != nil else {
                    throw ValidationError("--by takes district or street, not \"\(by.prefix(40))\"")
                }
            }

            func run() async throws {
                try await CLI.run {
                    let time = try knownAt.map { try CLI.parseTime($0, option: "--known-at") }
                    let model = ReadModel(try database.readConfiguration())
                    defer { CLI.noteLag(model) }
                    let jurisdiction = try await CLI.resolvedJurisdiction(self.jurisdiction, database)
                    let lines = try await CLI.inKnownJurisdiction(jurisdiction) {
                        try await model.headcount(
                            from: from, to: to, by: ReadModel.HeadcountGrouping(rawValue: by)!, knownAt: time, jurisdiction: jurisdiction)
                    }
                    output.print(
                        table: { Self.table(lines) }, json: { JSONValue.array(lines.map { .object($0.json) }).prettyText() },
                        csvHeader: ReadModel.HeadcountLine.csvHeader, csvRows: { lines.map(\.csvRow) })
                }
            }

            static func table(_ lines: [ReadModel.HeadcountLine]) -> String {
                guard !lines.isEmpty else { return "(no workers in those years)" }
                if lines.allSatisfy({ $0.standing == nil }) {  // streets: headcounts only
                    return Dossier.columns([["31 Dec", "street", "headcount"]] + lines.map { [String($0.year), $0.jurisdiction, String($0.headcount)] })
                }
                let header = ["31 Dec", "jurisdiction", "headcount", "per 10,000", "quota", "gap"]
                let rows = lines.map { line -> [String] in
                    let gap: String =
                        switch line.standing {
                        case "below"?: "\(line.gap!) short"
                        case "at"?: "at quota"
                        case "over"?: "\(-line.gap!) OVER QUOTA"
                        case "no-figure"?: "no population figure"
                        default: ""
                        }
                    return [String(line.year), line.jurisdiction, String(line.headcount), line.ratio ?? "—",
                            line.quota.map(String.init) ?? "—", gap]
                }
                return Dossier.columns([header] + rows)
            }
        }
    }

    /// Lists the policy exceptions.
    struct Exceptions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List decisions recorded despite a policy rule, with their justification and what became of them.",
            discussion: "Each is marked when a later decision rescinded, corrected or (on appeal) overturned it.")

        @Option(help: "Only decisions effective on or after this date (YYYY-MM-DD).") var since: String?
        @Option(help: "Only decisions effective on or before this date (YYYY-MM-DD).") var until: String?
        @Option(help: "Only decisions made in this City or City/District (a worker's: where the worker was placed on the effective date).")
        var jurisdiction: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let from = try since.map { try CLI.parseDate($0, option: "--since") }
                let to = try until.map { try CLI.parseDate($0, option: "--until") }
                if let from, let to, from > to {
                    throw UserError(description: "--since \(from) is after --until \(to): no date can be in both")
                }
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let jurisdiction = try await CLI.resolvedJurisdiction(self.jurisdiction, database)
                let exceptions = try await CLI.inKnownJurisdiction(jurisdiction) {
                    try await model.exceptions(ReadModel.ExceptionFilter(since: from, until: to, jurisdiction: jurisdiction))
                }
                output.print(
                    table: { exceptions.isEmpty ? "(no policy exceptions)" : exceptions.map(\.line).joined(separator: "\n") },
                    json: { JSONValue.array(exceptions.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.Exception.csvHeader, csvRows: { exceptions.map(\.csvRow) })
            }
        }
    }

    /// Lists the appeals caseload.
    struct Appeals: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List appeals: the worker, what each is lodged against, when, how long it has been open, and its ruling.",
            discussion: "Status is open until a ruling on the appeal takes effect, then upheld or overturned (the outcome for the decision or selection appealed against). Withdrawn (rescinded) appeals are left out.")

        @Flag(help: "Only appeals not yet ruled on (as of --as-of).") var open = false
        @Option(help: "Only appeals of workers placed in this City or City/District on the day they lodged it.") var jurisdiction: String?
        @Option(name: .customLong("as-of"), help: "The date the caseload stands on (default today): appeals lodged and rulings effective by then.")
        var asOf: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") }
                let model = ReadModel(try database.readConfiguration())
                let jurisdiction = try await CLI.resolvedJurisdiction(self.jurisdiction, database)
                let appeals = try await CLI.inKnownJurisdiction(jurisdiction) {
                    try await model.appeals(ReadModel.AppealFilter(openOnly: open, jurisdiction: jurisdiction, asOf: date))
                }
                output.print(
                    table: { appeals.isEmpty ? "(no appeals)" : appeals.map(\.line).joined(separator: "\n") },
                    json: { JSONValue.array(appeals.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.Appeal.csvHeader, csvRows: { appeals.map(\.csvRow) })
            }
        }
    }

    /// Shows how one attribute of a worker changed, and when the ledger learned it.
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How one attribute of a worker changed over effective time and over recorded time.")

        @Argument(help: "The worker id.") var worker: String
        @Option(help: "level, post, community or status.") var field: String
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard ReadModel.Field(rawValue: field) != nil else {
                throw ValidationError("--field takes level, post, community or status, not \"\(field)\"")
            }
        }

        func run() async throws {
            try await CLI.run {
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let attribute = ReadModel.Field(rawValue: field)!
                let history = try await model.history(worker: worker, field: attribute)
                output.print(
                    table: { Self.table(history, worker: worker, field: attribute) },
                    json: { JSONValue.object(history.json(worker: worker, field: attribute)).prettyText() },
                    csvHeader: ReadModel.History.csvHeader, csvRows: { history.csvRows(worker: worker, field: attribute) })
            }
        }

        static func table(_ history: ReadModel.History, worker: String, field: ReadModel.Field) -> String {
            var lines = ["\(field.rawValue) of \(worker), as known now:"]
            for period in history.effective {
                lines.append("  \(period.from) – \(period.until.map { "\($0)" } ?? "        ")  \(period.value)")
            }
            lines.append("\nas the ledger learned it:")
            for version in history.learned {
                lines.append("  recorded \(version.at):")
                for period in version.periods {
                    lines.append("    \(period.from) – \(period.until.map { "\($0)" } ?? "        ")  \(period.value)")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
