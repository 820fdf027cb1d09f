import DossierDomain
import DossierStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresClient

/// The JSON API: the same ledger calls as the CLI, as the person who logged in. Every refusal is an
/// RFC 9457 problem; what a person may do is decided by the database, not here.
enum API {
    static func register(on router: Router<DossierContext>, core: ServerCore) {
        router.get("/healthz") { _, _ in JSONValue.object(JSONObject([("status", .string("up"))])).response() }
        router.get("/readyz") { _, _ in
            let (ready, checks) = await core.readiness()
            var object = checks
            object["ready"] = .bool(ready)
            return JSONValue.object(object).response(ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: core.metrics.text())))
        }
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }

        let api = router.group("api")
        api.post("login") { request, context in try await login(request, context, core: core) }
        api.post("logout") { request, _ in
            if let id = request.cookies[ServerCore.sessionCookie]?.value { core.sessions.end(id) }
            var response = Response(status: .noContent)
            response.setCookie(expiredSessionCookie(core))
            return response
        }
        api.get("me") { request, _ in
            let identity = try await require(request, core: core)
            let scopes = try await core.act(identity) { session in
                try await session.run { connection -> [String] in
                    try connection.query("SELECT unnest(dossier.my_scopes())").rows.map { try $0.decode(String.self, at: 0) }
                }
            }
            return JSONValue.object(JSONObject([
                ("person", .string(identity.person)), ("role", .string(identity.role)),
                ("jurisdictions", .array(scopes.map(JSONValue.string))),
                ("via", .string(identity.viaToken ? "token" : "session")),
            ])).response()
        }

        api.post("decisions") { request, _ in try await recordDecisions(request, core: core) }
        api.post("imports") { request, _ in try await importDecisions(request, core: core) }
        api.get("imports") { request, _ in
            let identity = try await require(request, core: core)
            return JSONValue.array(core.imports.of(person: identity.person).map { entry in
                .object(JSONObject([
                    ("id", .string(entry.id.uuidString.lowercased())), ("state", .string(entry.state)),
                    ("started", .string(ISO8601DateFormatter().string(from: entry.started))),
                    ("linesRead", .integer(Int64(entry.lines))), ("linesJudged", .integer(Int64(entry.done))),
                ]))
            }).response()
        }

        api.get("workers") { request, _ in try await search(request, core: core) }
        api.get("workers/:id") { request, context in
            let identity = try await require(request, core: core)
            let worker = try workerID(context)
            let asOf = try request.date("asOf"), knownAt = try request.time("knownAt")
            let (report, source) = try await core.readLedger(identity) { ledger in
                try await ledger.showAny(worker, asOf: asOf, knownAt: knownAt)
            }
            var response = JSONValue.object(report.json).response()
            response.headers[ServerCore.readFromHeader] = source.rawValue
            return response
        }
        api.get("workers/:id/trace") { request, context in
            let identity = try await require(request, core: core)
            let worker = try workerID(context)
            let (trace, source) = try await core.readLedger(identity) { ledger in try await ledger.trace(subject: worker) }
            var object = JSONObject([("stream", .string(trace.stream.rawValue)), ("entries", .array(trace.entries.map { .object($0.json) }))])
            if let personal = trace.personal { object["name"] = .string(personal.displayName) }
            var response = JSONValue.object(object).response()
            response.headers[ServerCore.readFromHeader] = source.rawValue
            return response
        }
        api.get("workers/:id/history") { request, context in
            let identity = try await require(request, core: core)
            let worker = try workerID(context)
            guard let text = request.query("field"), let field = ReadModel.Field(rawValue: text) else {
                throw Problem.badParameter("field", "takes level, post, community or status")
            }
            let history = try await core.act(identity, fresh: true) { session in
                try await ReadModel(session: session).history(worker: worker, field: field)
            }
            return JSONValue.object(history.json(worker: worker, field: field)).response()
        }
        api.get("workers/:id/bundle") { request, context in
            let identity = try await require(request, core: core)
            let worker = try workerID(context)
            let bundle = try await core.act(identity) { session in try await Self.bundle(session, worker: worker) }
            var response = JSONValue.object(bundle).response()
            response.headers[.contentDisposition] = "attachment; filename=\"bundle.json\""
            return response
        }

        api.get("roster") { request, _ in
            let identity = try await require(request, core: core)
            let entries = try await roster(request, identity: identity, core: core)
            if request.query("format") == "csv" { return csv(Self.rosterCSV(entries), filename: "roster.csv") }
            try checkFormat(request)
            return JSONValue.array(entries.map { .object($0.json) }).response()
        }
        api.get("eligible") { request, _ in
            let identity = try await require(request, core: core)
            guard let text = request.query("for"), let kind = EligibilityKind(rawValue: text) else {
                throw Problem.badParameter("for", "takes level-up, public-institution or exit-review")
            }
            let place = try place(request)
            let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
            let entries = try await core.act(identity, fresh: true) { session in
                try await ReadModel(session: session).eligible(kind, place: place, asOf: asOf, knownAt: knownAt)
            }
            if request.query("format") == "csv" { return csv(Self.rosterCSV(entries), filename: "eligible.csv") }
            try checkFormat(request)
            return JSONValue.array(entries.map { .object($0.json) }).response()
        }
        api.get("quota") { request, _ in
            let identity = try await require(request, core: core)
            let jurisdiction = try request.query("jurisdiction").map { try checkedText($0, "jurisdiction", max: 201) }
            let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
            let lines = try await inKnownJurisdiction {
                try await core.act(identity, fresh: true) { session in
                    try await ReadModel(session: session).quota(jurisdiction: jurisdiction, asOf: asOf, knownAt: knownAt)
                }
            }
            if request.query("format") == "csv" {
                return csv(CSV.document(header: ReadModel.QuotaLine.csvHeader, rows: lines.map(\.csvRow)), filename: "quota.csv")
            }
            try checkFormat(request)
            return JSONValue.array(lines.map { .object($0.json) }).response()
        }
        api.get("reports/headcount") { request, _ in
            let identity = try await require(request, core: core)
            func year(_ name: String) throws -> Int {
                guard let text = request.query(name) else { throw Problem.badParameter(name, "\(name) is required: a year from 1900 to 2200") }
                guard text.utf8.count == 4, let year = Int(text), (1900...2200).contains(year) else {
                    throw Problem.badParameter(name, "\(name) takes a year from 1900 to 2200")
                }
                return year
            }
            let from = try year("from"), to = try year("to")
            guard from <= to, to - from < 100 else {
                throw Problem.badParameter("to", "from (\(from)) must not be after to (\(to)), and at most 100 years apart")
            }
            let byText = request.query("by") ?? "district"
            guard let by = ReadModel.HeadcountGrouping(rawValue: byText) else {
                throw Problem.badParameter("by", "by takes district or street")
            }
            let jurisdiction = try request.query("jurisdiction").map { try checkedText($0, "jurisdiction", max: 201) }
            let knownAt = try request.time("knownAt")
            let lines = try await inKnownJurisdiction {
                try await core.act(identity, fresh: true) { session in
                    try await ReadModel(session: session).headcount(from: from, to: to, by: by, knownAt: knownAt, jurisdiction: jurisdiction)
                }
            }
            if request.query("format") == "csv" {
                return csv(CSV.document(header: ReadModel.HeadcountLine.csvHeader, rows: lines.map(\.csvRow)), filename: "headcount.csv")
            }
            try checkFormat(request)
            return JSONValue.array(lines.map { .object($0.json) }).response()
        }
        api.get("exceptions") { request, _ in
            let identity = try await require(request, core: core)
            let jurisdiction = try request.query("jurisdiction").map { try checkedText($0, "jurisdiction", max: 201) }
            let since = try request.date("since")
            let until = try request.date("until")
            if let since, let until, since > until {
                throw Problem.badParameter("since", "since (\(since)) is after until (\(until))")
            }
            let filter = ReadModel.ExceptionFilter(since: since, until: until, jurisdiction: jurisdiction)
            let exceptions = try await inKnownJurisdiction {
                try await core.act(identity, fresh: true) { session in try await ReadModel(session: session).exceptions(filter) }
            }
            if request.query("format") == "csv" {
                return csv(CSV.document(header: ReadModel.Exception.csvHeader, rows: exceptions.map(\.csvRow)), filename: "exceptions.csv")
            }
            try checkFormat(request)
            return JSONValue.array(exceptions.map { .object($0.json) }).response()
        }
        api.get("due") { request, _ in
            let identity = try await require(request, core: core)
            let jurisdiction = try request.query("jurisdiction").map { try checkedText($0, "jurisdiction", max: 201) }
            let asOf = try request.date("asOf") ?? Ledger.today()
            let items = try await inKnownJurisdiction {
                try await core.act(identity, fresh: true) { session in
                    try await ReadModel(session: session).due(asOf: asOf, jurisdiction: jurisdiction)
                }
            }
            if request.query("format") == "csv" {
                return csv(CSV.document(header: ReadModel.DueItem.csvHeader, rows: items.map(\.csvRow)), filename: "due.csv")
            }
            try checkFormat(request)
            return JSONValue.array(items.map { .object($0.json) }).response()
        }
        api.get("places") { request, _ in
            let identity = try await require(request, core: core)
            let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
            let book = try await core.act(identity) { session in try await ReadModel(session: session).gazetteer(knownAt: knownAt) }
            return JSONValue.array(book.tree(on: asOf).map { .object($0.json) }).response()
        }
        api.get("appeals") { request, _ in
            let identity = try await require(request, core: core)
            let jurisdiction = try request.query("jurisdiction").map { try checkedText($0, "jurisdiction", max: 201) }
            let asOf = try request.date("asOf")
            let openOnly: Bool
            switch request.query("open") {
            case nil, "false": openOnly = false
            case "true": openOnly = true
            default: throw Problem.badParameter("open", "takes true or false")
            }
            let filter = ReadModel.AppealFilter(openOnly: openOnly, jurisdiction: jurisdiction, asOf: asOf)
            let appeals = try await inKnownJurisdiction {
                try await core.act(identity) { session in try await ReadModel(session: session).appeals(filter) }
            }
            return JSONValue.array(appeals.map { .object($0.json) }).response()
        }
        api.get("access-log") { request, _ in
            let identity = try await require(request, core: core)
            let worker = try request.query("worker").map { try checkedText($0, "worker", max: 64) }
            let reader = try request.query("reader").map { try checkedText($0, "reader", max: 63) }
            let since = try request.time("since")
            let entries = try await core.act(identity) { session in
                try await session.run { try People.accessLog($0, worker: worker, reader: reader, since: since, limit: 1000) }
            }
            return JSONValue.array(entries.map { .object($0.json) }).response()
        }

        api.get("checkpoints/latest") { request, _ in
            let identity = try await require(request, core: core)
            let checkpoint = try await core.act(identity) { session in try await session.run { try StoredCheckpoint.latest($0) } }
            guard let checkpoint else { throw Problem(.notFound, "no-checkpoint", "No checkpoint yet", "no checkpoint has been signed: an admin runs `dossier checkpoint`") }
            return JSONValue.object(JSONObject([
                ("size", .integer(Int64(checkpoint.size))), ("root", .string(checkpoint.root.hex)), ("note", .string(checkpoint.note)),
            ])).response()
        }
        api.get("proofs/consistency") { request, _ in
            let identity = try await require(request, core: core)
            guard let from = request.query("from").flatMap({ Int($0) }), let to = request.query("to").flatMap({ Int($0) }),
                from >= 1, to >= from, to <= Int(Int32.max)
            else { throw Problem.badParameter("from", "from and to must be checkpoint sizes with 1 ≤ from ≤ to") }
            let proof = try await core.act(identity) { session in try await session.run { try Integrity.consistencyProof($0, from: from, to: to) } }
            return JSONValue.object(proof).response()
        }
        api.get("verify") { request, _ in
            _ = try await require(request, core: core)
            guard let last = core.verifications.get() else {
                return JSONValue.object(JSONObject([("verified", .null), ("detail", .string("not verified since the server started: POST /api/verify"))])).response()
            }
            return JSONValue.object(last).response()
        }
        api.post("verify") { request, _ in
            let identity = try await require(request, core: core, unsafe: true)
            let result = try await verify(identity, core: core)
            return JSONValue.object(result).response()
        }
    }

    // MARK: Authentication

    /// The identity of an API request, or 401. Unsafe methods from a browser session need the
    /// session's CSRF token in X-CSRF-Token (a token-authenticated script needs none).
    static func require(_ request: Request, core: ServerCore, unsafe: Bool = false) async throws -> Identity {
        guard let identity = try await core.identity(request) else { throw Problem.unauthenticated }
        if unsafe, !identity.viaToken, request.headers[HTTPField.Name("X-CSRF-Token")!] != identity.csrf {
            throw Problem(.forbidden, "csrf", "Missing CSRF token", "a browser session must send its CSRF token in X-CSRF-Token")
        }
        return identity
    }

    static func login(_ request: Request, _ context: DossierContext, core: ServerCore) async throws -> Response {
        // Not from another site's page: a cross-site form would log the victim's browser in as
        // the attacker (browsers name the page's origin in Origin and Sec-Fetch-Site).
        guard Web.sameOrigin(request) else {
            throw Problem.forbidden("a login from another site's page is refused: log in on this server's own pages, or from a script")
        }
        let body = try await request.bytes(limit: 16 << 10)
        guard let value = try? JSONParser.parse(String(decoding: body, as: UTF8.self)), case .object(let object) = value,
            case .string(let user)? = object["user"], case .string(let password)? = object["password"],
            object.keys.allSatisfy({ ["user", "password"].contains($0) })
        else {
            throw Problem(.badRequest, "invalid-input", "Invalid login", "send {\"user\": \"…\", \"password\": \"…\"} and nothing else")
        }
        let outcome = try await Web.checkLogin(user: user, password: password, address: context.remoteAddress, core: core)
        let id = core.sessions.start(person: outcome.name, role: outcome.role)
        var response = JSONValue.object(JSONObject([
            ("person", .string(outcome.name)), ("role", .string(outcome.role)),
            ("csrf", .string(core.sessions.identity(id)?.csrf ?? "")),
        ])).response()
        response.setCookie(sessionCookie(id, core))
        return response
    }

    static func sessionCookie(_ id: String, _ core: ServerCore) -> Cookie {
        Cookie(
            name: ServerCore.sessionCookie, value: id, path: "/", secure: core.settings.secureCookies, httpOnly: true,
            sameSite: .strict)
    }

    static func expiredSessionCookie(_ core: ServerCore) -> Cookie {
        Cookie(
            name: ServerCore.sessionCookie, value: "", maxAge: 0, path: "/", secure: core.settings.secureCookies,
            httpOnly: true, sameSite: .strict)
    }

    // MARK: Recording

    static func recordDecisions(_ request: Request, core: ServerCore) async throws -> Response {
        let identity = try await require(request, core: core, unsafe: true)
        let onBehalfOf = try request.headers[HTTPField.Name("X-On-Behalf-Of")!].map { try checkedText($0, "X-On-Behalf-Of", max: 200) }
        let body = try await request.bytes(limit: 8 << 20)
        guard String(validating: body, as: UTF8.self) != nil else {
            throw Problem(.badRequest, "invalid-input", "Invalid input", "the body is not valid UTF-8: nothing recorded")
        }
        let lines = DecisionInput.lines(Data(body))
        let invalid = lines.compactMap { line -> JSONValue? in
            guard case .failure(let error) = line.result else { return nil }
            return .object(JSONObject([("line", .integer(Int64(line.number))), ("message", .string(error.description))]))
        }
        guard invalid.isEmpty else {
            if lines.count == 1, case .failure(let error) = lines[0].result { throw error }
            throw Problem(
                .badRequest, "invalid-decision", "Invalid decisions", "nothing recorded: \(invalid.count) of \(lines.count) lines are invalid",
                extra: JSONObject([("lines", .array(invalid))]))
        }
        guard !lines.isEmpty else {
            throw Problem(.badRequest, "invalid-input", "No decision", "send one decision as a JSON object, or JSON Lines")
        }
        return try await core.act(identity) { session in
            let ledger = Ledger(session: session, configuration: core.configuration, actingFor: identity.person)
            var recorded: [JSONValue] = []
            for line in lines {
                let decision = try line.result.get()
                do {
                    let outcome = try await ledger.record(decision, onBehalfOf: onBehalfOf)
                    if lines.count == 1 { return JSONValue.object(outcome.json).response(outcome.duplicate ? .ok : .created) }
                    recorded.append(.object(outcome.json))
                } catch {
                    var problem = Problem.from(error)
                    if lines.count == 1 { throw problem }
                    problem.extra["line"] = .integer(Int64(line.number))
                    problem.extra["recordedBefore"] = .array(recorded)
                    problem.detail = "stopped at line \(line.number) (\(recorded.count) of \(lines.count) recorded before it): " + problem.detail
                    throw problem
                }
            }
            return JSONValue.object(JSONObject([("recorded", .array(recorded))])).response(.created)
        }
    }

    /// All or nothing: the import runs in one transaction, judging the body's lines as they
    /// arrive (a chunk of 5,000 at a time; at most 8 MB of the body is held); its progress is
    /// readable meanwhile (GET /api/imports).
    static func importDecisions(_ request: Request, core: ServerCore) async throws -> Response {
        let identity = try await require(request, core: core, unsafe: true)
        let id = core.imports.start(person: identity.person)
        let lines = StreamedLines(limit: 256 << 20)
        let feeder = Task { await lines.feed(request.body) }
        defer { feeder.cancel() }
        do {
            let report = try await core.act(identity) { session in
                try await Importer(session: session).run(
                    chunks: { try lines.next(5000) }, skipInvalid: false,
                    progress: { progress in core.imports.update(id, lines: lines.read, done: progress.done) })
            }
            core.imports.finish(id, state: report.committed ? "committed" : "refused")
            guard report.committed else {
                let problems = report.problems.prefix(1000).map { problem in
                    JSONValue.object(JSONObject([("line", .integer(Int64(problem.line))), ("message", .string(problem.message))]))
                }
                throw Problem(
                    .unprocessableContent, "import-refused", "Nothing imported",
                    "nothing imported: \(report.problems.count) of \(report.lines) lines are invalid or refused",
                    extra: JSONObject([("problems", .array(Array(problems))), ("lines", .integer(Int64(report.lines)))]))
            }
            guard report.lines > 0 else {
                throw Problem(.badRequest, "invalid-input", "No decision", "the body holds no decision: send JSON Lines")
            }
            return JSONValue.object(JSONObject([
                ("id", .string(id.uuidString.lowercased())), ("lines", .integer(Int64(report.lines))),
                ("written", .integer(Int64(report.written))), ("duplicates", .integer(Int64(report.duplicates))),
                ("firstPosition", report.firstPosition.map { .integer($0) } ?? .null),
                ("warningCount", .integer(Int64(report.warningCount))),
                ("warnings", .array(report.warnings.map { warning in
                    .object(JSONObject([("line", .integer(Int64(warning.line))), ("message", .string(warning.message))]))
                })),
            ])).response(.created)
        } catch {
            core.imports.finish(id, state: "refused")
            throw error
        }
    }

    // MARK: Questions

    static func search(_ request: Request, core: ServerCore) async throws -> Response {
        let identity = try await require(request, core: core)
        if let name = request.query("name") {
            let text = try checkedText(name, "name", max: 100)
            let found = try await core.act(identity) { session in try await session.run { try People.find($0, name: text) } }
            return JSONValue.array(found.map { .object(JSONObject([("worker", .string($0.worker)), ("name", .string($0.name))])) }).response()
        }
        if let id = request.query("id") {
            let text = try checkedText(id, "id", max: 64)
            let workers = try await core.act(identity) { session in
                try await session.run { connection in
                    try Ledger.workers(connection, startingWith: text)
                }
            }
            return JSONValue.array(workers.map { .object(JSONObject([("worker", .string($0))])) }).response()
        }
        throw Problem.badParameter("name", "search with ?name=PART OF A NAME or ?id=START OF AN ID")
    }

    static func place(_ request: Request) throws -> ReadModel.Place {
        ReadModel.Place(
            city: try request.query("city").map { try checkedText($0, "city", max: 100) },
            district: try request.query("district").map { try checkedText($0, "district", max: 100) },
            street: try request.query("street").map { try checkedText($0, "street", max: 100) },
            community: try request.query("community").map { try checkedText($0, "community", max: 100) })
    }

    static func roster(_ request: Request, identity: Identity, core: ServerCore) async throws -> [ReadModel.RosterEntry] {
        let place = try place(request)
        let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
        let nameFilter = try request.query("name").map { try checkedText($0, "name", max: 100) }
        return try await core.act(identity, fresh: true) { session in
            let model = ReadModel(session: session)
            var entries = try await model.roster(place: place, asOf: asOf, knownAt: knownAt)
            guard identity.readsNames, !entries.isEmpty else {
                if nameFilter != nil { throw Problem.forbidden("names are not shown to auditors") }
                return entries
            }
            let names = try await model.names(of: entries.map(\.worker), purpose: "roster")
            for index in entries.indices { entries[index].name = names[entries[index].worker] }
            if let nameFilter { entries = entries.filter { $0.name?.contains(nameFilter) == true } }
            return entries
        }
    }

    static func bundle(_ session: PostgresSession, worker: String) async throws -> JSONObject {
        try await session.run { connection in
            guard let key = try Integrity.storedVerifyingKey(connection) else { throw IntegrityError.noCheckpoint }
            return try Integrity.exportBundle(connection, subject: worker, key: key)
        }
    }

    static func verify(_ identity: Identity, core: ServerCore) async throws -> JSONObject {
        let report = try await core.act(identity) { session in
            try await session.run { connection -> Integrity.Verification in
                let key = try Integrity.storedVerifyingKey(connection) ?? SigningKey(name: "none").verifying
                return try Integrity.verify(connection, key: key)
            }
        }
        var object = JSONObject([
            ("verified", .bool(report.mismatch == nil)), ("events", .integer(Int64(report.events))),
            ("checkpoints", .integer(Int64(report.checkpoints))), ("uncovered", .integer(Int64(report.uncovered))),
            ("personalChecked", .integer(Int64(report.personalChecked))), ("personalReadable", .bool(report.personalReadable)),
            ("by", .string(identity.person)), ("at", .string(ISO8601DateFormatter().string(from: Date()))),
            ("seconds", .fraction(report.seconds)),
        ])
        if let mismatch = report.mismatch { object["mismatch"] = .string("\(mismatch)") }
        core.verifications.set(object)
        return object
    }

    // MARK: Helpers

    static func workerID(_ context: DossierContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw Problem.badParameter("id", "a worker id is needed") }
        return try checkedText(id, "id", max: 64)
    }

    /// A parameter a person typed: printable, not too long (the ledger's own limits apply after).
    static func checkedText(_ text: String, _ name: String, max: Int) throws -> String {
        guard !text.isEmpty, text.unicodeScalars.count <= max,
            !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else { throw Problem.badParameter(name, "must be 1 to \(max) printable characters") }
        return text
    }

    /// Runs a read that names a jurisdiction; one the ledger does not know is a 400 naming the
    /// `jurisdiction` parameter.
    static func inKnownJurisdiction<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let unknown as ReadModel.UnknownJurisdiction {
            throw Problem.badParameter("jurisdiction", unknown.description)
        }
    }

    static func checkFormat(_ request: Request) throws {
        if let format = request.query("format"), format != "json" {
            throw Problem.badParameter("format", "takes json or csv")
        }
    }

    static func csv(_ text: String, filename: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(filename)\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The roster or eligibility list as CSV, by the one writer the CLI uses too (`CSV`: RFC 4180,
    /// a header row, CRLF, quoting, a `'` before a text that a spreadsheet would run as a
    /// formula), in the columns of `RosterEntry.csvHeader`.
    static func rosterCSV(_ entries: [ReadModel.RosterEntry]) -> String {
        CSV.document(header: ReadModel.RosterEntry.csvHeader, rows: entries.map(\.csvRow))
    }
}

/// An import body read as it arrives (an async producer) and handed to the importer a chunk of
/// decoded lines at a time (a blocking consumer, on the importing connection's own thread). The
/// producer waits while 8 MB are buffered; a body over `limit` bytes, a line over 8 MB or a
/// minute without data ends the import.
final class StreamedLines: @unchecked Sendable {
    private let condition = NSCondition()
    private var buffer: [UInt8] = []
    private var start = 0
    private var finished = false
    /// Why reading stopped early (too large, a line too long, stalled).
    private var problem: Problem?
    private let stall: TimeInterval = 60
    private var total = 0
    private var number = 0
    private let limit: Int
    private let window = 8 << 20
    /// Lines read so far (for progress).
    private(set) var read = 0

    init(limit: Int) { self.limit = limit }

    func feed(_ body: RequestBody) async {
        do {
            for try await chunk in body {
                while isFull() {
                    if Task.isCancelled { return finish() }
                    try await Task.sleep(for: .milliseconds(2))
                }
                if !append(chunk) { return }
            }
        } catch {}
        finish()
    }

    private func isFull() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return buffer.count - start > window && !finished
    }

    /// Adds a chunk; false (and the end) when the body went over the limit or reading stopped.
    private func append(_ chunk: ByteBuffer) -> Bool {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        if finished { return false }
        total += chunk.readableBytes
        if total > limit {
            problem = Problem(.contentTooLarge, "too-large", "Body too large", "an import may be at most \(limit) bytes: nothing imported")
            finished = true
            return false
        }
        buffer.append(contentsOf: chunk.readableBytesView)
        return true
    }

    private func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next `count` lines (blank lines skipped, numbers kept), or nil at the end. A line longer
    /// than the window, or an upload that sends nothing for `stall`, ends the import (nothing is
    /// imported) instead of holding the import barrier.
    func next(_ count: Int) throws -> [Importer.Line]? {
        var raw: [(Int, ArraySlice<UInt8>)] = []
        condition.lock()
        while raw.count < count, problem == nil {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                number += 1
                raw.append((number, buffer[start..<newline]))
                start = newline + 1
            } else if finished {
                if start < buffer.count {
                    number += 1
                    raw.append((number, buffer[start...]))
                    start = buffer.count
                }
                break
            } else if buffer.count - start >= window {
                problem = Problem(
                    .contentTooLarge, "line-too-long", "Line too long",
                    "line \(number + 1) is longer than \(window) bytes: nothing imported")
                finished = true
            } else if !condition.wait(until: Date().addingTimeInterval(stall)) {
                problem = Problem(
                    .requestTimeout, "stalled", "Upload stalled",
                    "the upload sent nothing for \(Int(stall)) s after line \(number): nothing imported")
                finished = true
            }
        }
        if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        let failure = problem
        read = number
        condition.unlock()
        if let failure { throw failure }
        let lines: [Importer.Line] = raw.compactMap { number, bytes in
            var slice = bytes
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
            return Importer.Line(number: number, bytes: slice)
        }
        if lines.isEmpty && raw.isEmpty { return nil }
        return lines
    }
}
