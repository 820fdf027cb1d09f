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
        let widths = (0..<header.count).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { $0.offset == row.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset] + 2, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n") + "\n\(entries.count) worker" + (entries.count == 1 ? "" : "s")
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
                var entries = try await model.roster(place: place.place, asOf: date, knownAt: time)
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
        static let configuration = CommandConfiguration(abstract: "Headcount against the quota (18 per 10,000 urban residents, or the ratio in force) per district and city.")

        @Option(help: "One jurisdiction: City or City/District.") var jurisdiction: String?
        @Option(name: .customLong("as-of"), help: "The date (default today).") var asOf: String?
        @OptionGroup var output: OutputFormat
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await CLI.run {
                let date = try asOf.map { try CLI.parseDate($0, option: "--as-of") } ?? Ledger.today()
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let lines = try await model.quota(jurisdiction: jurisdiction, asOf: date)
                output.print(
                    table: { Self.table(lines) }, json: { JSONValue.array(lines.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.QuotaLine.csvHeader, csvRows: { lines.map(\.csvRow) })
            }
        }

        static func table(_ lines: [ReadModel.QuotaLine]) -> String {
            guard !lines.isEmpty else { return "(no jurisdiction)" }
            return lines.map { line in
                let quota = line.quota.map { "quota \($0) (\(line.perTenThousand!) per 10,000 of \(line.urbanPopulation!), \(line.year!))" } ?? "no population recorded"
                let state = line.gap.map { $0 >= 0 ? "\($0) below quota" : "\(-$0) OVER QUOTA" } ?? ""
                return "\(line.jurisdiction): headcount \(line.headcount), \(quota)" + (state.isEmpty ? "" : ", \(state)")
            }.joined(separator: "\n")
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
                if let jurisdiction, jurisdiction.trimmingCharacters(in: .whitespaces).isEmpty || jurisdiction.count > 201 {
                    throw UserError(description: "--jurisdiction takes City or City/District, not \"\(jurisdiction.prefix(40))\"")
                }
                let model = ReadModel(try database.readConfiguration())
                defer { CLI.noteLag(model) }
                let exceptions: [ReadModel.Exception]
                do {
                    exceptions = try await model.exceptions(ReadModel.ExceptionFilter(since: from, until: to, jurisdiction: jurisdiction))
                } catch let unknown as ReadModel.UnknownJurisdiction {
                    throw UserError(description: "--jurisdiction: \(unknown.description)")
                }
                output.print(
                    table: { exceptions.isEmpty ? "(no policy exceptions)" : exceptions.map(\.line).joined(separator: "\n") },
                    json: { JSONValue.array(exceptions.map { .object($0.json) }).prettyText() },
                    csvHeader: ReadModel.Exception.csvHeader, csvRows: { exceptions.map(\.csvRow) })
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
