import DossierDomain
import DossierStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PostgresClient

/// The web interface: server-rendered pages on the same calls as the API, as the person who
/// logged in. Forms carry the session's CSRF token; every asset comes from the binary.
enum Web {
    static func register(on router: Router<DossierContext>, core: ServerCore) {
        router.get("/assets/app.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: Templates.css)))
        }
        router.get("/login") { request, _ in
            page(request, identity: nil, title: Strings.of(request)["login"], template: "login", ["next": safeNext(request.query("next"))])
        }
        router.post("/login") { request, context in
            guard sameOrigin(request) else { return errorPage(request, status: .forbidden, message: "cross-site login refused") }
            let form = try await Form(request)
            let next = safeNext(form["next"])
            do {
                let outcome = try await checkLogin(user: form["user"] ?? "", password: form["password"] ?? "", address: context.remoteAddress, core: core)
                let id = core.sessions.start(person: outcome.name, role: outcome.role)
                var response = Response(status: .seeOther, headers: [.location: next])
                response.setCookie(API.sessionCookie(id, core))
                return response
            } catch let problem as Problem where problem.status == .unauthorized || problem.status == .tooManyRequests {
                let strings = Strings.of(request)
                var response = page(
                    request, identity: nil, title: strings["login"], template: "login",
                    ["next": next, "error": problem.status == .tooManyRequests ? strings["tooMany"] : strings["loginFailed"]])
                response.status = problem.status
                if let retry = problem.retryAfter { response.headers[.retryAfter] = String(retry) }
                return response
            }
        }
        router.post("/logout") { request, _ in
            let form = try await Form(request)
            if let id = request.cookies[ServerCore.sessionCookie]?.value, let identity = core.sessions.identity(id) {
                guard form["csrf"] == identity.csrf else { return errorPage(request, status: .forbidden, message: "CSRF") }
                core.sessions.end(id)
            }
            var response = Response(status: .seeOther, headers: [.location: "/login"])
            response.setCookie(API.expiredSessionCookie(core))
            return response
        }

        router.get("/") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            var context: [String: Any] = ["noNames": !identity.readsNames]
            if let q = request.query("q") {
                let text = try API.checkedText(q, "q", max: 100)
                let results = try await core.act(identity) { session in
                    try await session.run { connection -> [[String: String]] in
                        var found: [String: String] = [:]
                        for worker in try Ledger.workers(connection, startingWith: text) { found[worker] = "" }
                        if identity.readsNames {
                            for match in (try? People.find(connection, name: text)) ?? [] { found[match.worker] = match.name }
                        }
                        return found.keys.sorted().map { ["worker": $0, "name": found[$0]!] }
                    }
                }
                if results.count == 1, results[0]["worker"] == text {
                    return Response(status: .seeOther, headers: [.location: "/workers/" + pathEscape(text)])
                }
                context["q"] = text
                context["searched"] = true
                context["results"] = results
                context["hasResults"] = !results.isEmpty
            }
            return page(request, identity: identity, title: Strings.of(request)["search"], template: "home", context)
        }

        router.get("/workers/:id") { request, context in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            return try await workerPage(request, context, identity: identity, core: core)
        }
        router.get("/workers/:id/report") { request, context in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            return try await reportPage(request, context, identity: identity, core: core)
        }

        router.get("/decisions/new") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            guard identity.records else { return errorPage(request, status: .forbidden, message: Strings.of(request)["forbidden"]) }
            let kind = DecisionKind(rawValue: request.query("kind") ?? "hire") ?? .hire
            var values: [String: String] = [:]
            if let worker = request.query("worker") { values["worker"] = worker }
            return try await decisionForm(request, identity: identity, core: core, kind: kind, values: values)
        }
        router.post("/decisions") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let form = try await Form(request)
            guard form["csrf"] == identity.csrf, identity.csrf != nil else {
                return errorPage(request, status: .forbidden, message: "CSRF")
            }
            guard identity.records else { return errorPage(request, status: .forbidden, message: Strings.of(request)["forbidden"]) }
            return try await submitDecision(request, form: form, identity: identity, core: core)
        }

        router.get("/roster") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let entries = try await API.roster(request, identity: identity, core: core)
            return listPage(
                request, identity: identity, heading: strings["roster"], filters: placeFilters(request, strings, knownAt: true),
                csv: "/api/roster?" + passQuery(request, ["city", "district", "street", "community", "asOf", "knownAt"]) + "format=csv",
                note: identity.readsNames ? nil : strings["noNames"], entries: entries, reason: false)
        }
        router.get("/eligible") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let kind = EligibilityKind(rawValue: request.query("for") ?? "level-up") ?? .levelUp
            let place = try API.place(request)
            let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
            let entries = try await core.act(identity, fresh: true) { session in
                try await ReadModel(session: session).eligible(kind, place: place, asOf: asOf, knownAt: knownAt)
            }
            var filters = [choiceFilter("for", strings["for"], [("level-up", strings["levelUp"]), ("public-institution", strings["publicInstitution"]), ("exit-review", strings["exitReview"])], kind.rawValue)]
            filters += placeFilters(request, strings, knownAt: true)
            return listPage(
                request, identity: identity, heading: strings["eligible"], filters: filters,
                csv: "/api/eligible?" + passQuery(request, ["city", "district", "street", "community", "asOf", "knownAt"]) + "for=\(kind.rawValue)&format=csv",
                note: nil, entries: entries, reason: true)
        }
        router.get("/quota") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let asOf = try request.date("asOf") ?? Ledger.today(), knownAt = try request.time("knownAt")
            let jurisdiction = try request.query("jurisdiction").flatMap { $0.isEmpty ? nil : try API.checkedText($0, "jurisdiction", max: 201) }
            var note: String?
            var lines: [ReadModel.QuotaLine] = []
            do {
                lines = try await core.act(identity, fresh: true) { session in
                    try await ReadModel(session: session).quota(jurisdiction: jurisdiction, asOf: asOf, knownAt: knownAt)
                }
            } catch let unknown as ReadModel.UnknownJurisdiction {
                note = unknown.description
            }
            let rows: [[String: Any]] = lines.map { line in
                let gap: String =
                    switch line.standing {
                    case .noFigure: strings["noPopulation"]
                    case .below: "\(line.gap!) \(strings["belowQuota"])"
                    case .at: strings["atQuota"]
                    case .over: "\(-line.gap!) \(strings["overQuota"])"
                    }
                return row([line.jurisdiction, String(line.headcount), line.quota.map(String.init) ?? "—",
                            line.urbanPopulation.map { "\($0) (\(line.year!))" } ?? "—",
                            (line.ratio ?? "—") + (line.perTenThousand.map { " / \($0)" } ?? ""), gap])
            }
            var context: [String: Any] = [
                "heading": strings["quota"], "hasFilters": true,
                "filters": [
                    ["name": "jurisdiction", "label": strings["field.jurisdiction"], "type": "text", "value": jurisdiction ?? ""],
                    ["name": "asOf", "label": strings["asOf"], "type": "date", "value": asOf.description],
                    ["name": "knownAt", "label": strings["knownAt"], "type": "date", "value": request.query("knownAt") ?? ""],
                ],
                "chart": "<div class=\"chart\">" + quotaChart(lines, strings) + "</div>",
                "columns": ["", strings["headcount"], strings["quota"], strings["population"], strings["perTenThousand"], strings["gap"]],
                "rows": rows, "hasRows": !rows.isEmpty,
                "csv": "/api/quota?" + passQuery(request, ["jurisdiction", "asOf", "knownAt"]) + "format=csv",
            ]
            if let note { context["note"] = note }
            return wrap(request, identity: identity, title: strings["quota"], body: Templates.render("list", base(request) + context))
        }
        router.get("/exceptions") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let since = try request.date("since"), until = try request.date("until")
            let jurisdiction = try request.query("jurisdiction").flatMap { $0.isEmpty ? nil : try API.checkedText($0, "jurisdiction", max: 201) }
            var note: String?
            var exceptions: [ReadModel.Exception] = []
            if let since, let until, since > until {
                note = "\(strings["since"]) \(since) > \(strings["until"]) \(until)"
            } else {
                do {
                    let filter = ReadModel.ExceptionFilter(since: since, until: until, jurisdiction: jurisdiction)
                    exceptions = try await core.act(identity, fresh: true) { session in try await ReadModel(session: session).exceptions(filter) }
                } catch let unknown as ReadModel.UnknownJurisdiction {
                    note = unknown.description
                }
            }
            let rows: [[String: Any]] = exceptions.map { exception in
                let object = exception.json
                // The exception names its stream: a worker's record links to the worker's page; a
                // cadre's or a jurisdiction's shows its subject.
                let stream = StreamID(rawValue: object["stream"]?.stringValue ?? "")
                let subject = stream.rawValue.isEmpty ? "" : stream.subject
                var cells = row([object["effective"]?.stringValue ?? "", subject, object["decision"]?.stringValue ?? "", exception.line])["cells"] as! [[String: String]]
                if stream.kind == "worker", !subject.isEmpty { cells[1]["link"] = "/workers/" + pathEscape(subject) }
                return ["cells": cells]
            }
            var context: [String: Any] = [
                "heading": strings["exceptions"], "hasFilters": true,
                "filters": [
                    ["name": "since", "label": strings["since"], "type": "date", "value": request.query("since") ?? ""],
                    ["name": "until", "label": strings["until"], "type": "date", "value": request.query("until") ?? ""],
                    ["name": "jurisdiction", "label": strings["field.jurisdiction"], "type": "text", "value": jurisdiction ?? ""],
                ],
                "columns": [strings["effective"], strings["worker"], strings["decision"], strings["reason"]],
                "rows": rows, "hasRows": !rows.isEmpty,
                "csv": "/api/exceptions?" + passQuery(request, ["since", "until", "jurisdiction"]) + "format=csv",
            ]
            if let note { context["note"] = note }
            return wrap(request, identity: identity, title: strings["exceptions"], body: Templates.render("list", base(request) + context))
        }
        router.get("/due") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let asOf = try request.date("asOf") ?? Ledger.today()
            let jurisdiction = try request.query("jurisdiction").flatMap { $0.isEmpty ? nil : try API.checkedText($0, "jurisdiction", max: 201) }
            var note: String?
            var items: [ReadModel.DueItem] = []
            do {
                items = try await core.act(identity, fresh: true) { session in
                    try await ReadModel(session: session).due(asOf: asOf, jurisdiction: jurisdiction)
                }
            } catch let unknown as ReadModel.UnknownJurisdiction {
                note = unknown.description
            }
            let rows: [[String: Any]] = items.map { item in
                var cells = row([item.due.description, strings["due." + item.kind.rawValue], item.subject, item.jurisdiction ?? "—", item.detail])["cells"]
                    as! [[String: String]]
                if item.subjectKind == "worker" { cells[2]["link"] = "/workers/" + pathEscape(item.subject) }
                return ["cells": cells]
            }
            var context: [String: Any] = [
                "heading": strings["due"], "hasFilters": true,
                "filters": [
                    ["name": "jurisdiction", "label": strings["field.jurisdiction"], "type": "text", "value": jurisdiction ?? ""],
                    ["name": "asOf", "label": strings["asOf"], "type": "date", "value": asOf.description],
                ],
                "columns": [strings["dueSince"], strings["field.kind"], strings["subject"], strings["field.jurisdiction"], strings["what"]],
                "rows": rows, "hasRows": !rows.isEmpty, "after": "<p>\(items.count) \(strings["items"])</p>",
                "csv": "/api/due?" + passQuery(request, ["jurisdiction", "asOf"]) + "format=csv",
            ]
            if let note { context["note"] = note }
            return wrap(request, identity: identity, title: strings["due"], body: Templates.render("list", base(request) + context))
        }
        router.get("/access-log") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let strings = Strings.of(request)
            let worker = try request.query("worker").map { try API.checkedText($0, "worker", max: 64) }
            let entries = try await core.act(identity) { session in
                try await session.run { try People.accessLog($0, worker: worker, reader: nil, since: nil, limit: 500) }
            }
            let rows: [[String: Any]] = entries.reversed().map { entry in
                row([entry.at.description, entry.reader + (entry.login == entry.reader ? "" : " (\(entry.login))"), entry.worker, entry.what])
            }
            let body = Templates.render("list", base(request) + [
                "heading": strings["accessLog"], "hasFilters": true,
                "filters": [["name": "worker", "label": strings["worker"], "type": "text", "value": worker ?? ""]],
                "columns": [strings["at"], strings["reader"], strings["worker"], strings["what"]], "rows": rows, "hasRows": !rows.isEmpty,
            ])
            return wrap(request, identity: identity, title: strings["accessLog"], body: body)
        }
        router.get("/integrity") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            return try await integrityPage(request, identity: identity, core: core, flash: nil)
        }
        router.post("/integrity/verify") { request, _ in
            guard let identity = try await core.identity(request) else { return toLogin(request) }
            let form = try await Form(request)
            guard form["csrf"] == identity.csrf, identity.csrf != nil else { return errorPage(request, status: .forbidden, message: "CSRF") }
            let result = try await API.verify(identity, core: core)
            return try await integrityPage(request, identity: identity, core: core, flash: (result["verified"] == .bool(true) ? "✔ " : "✘ ") + JSONValue.object(result).canonicalText)
        }
    }

    // MARK: Login

    /// Checks a login, throttled per user and per address; throws a 401 or 429 problem.
    static func checkLogin(user: String, password: String, address: String, core: ServerCore) async throws -> (name: String, role: String) {
        if let wait = core.throttle.begin(user: user, address: address) {
            var problem = Problem(.tooManyRequests, "throttled", "Too many failed logins", "too many failed logins: try again in \(wait) s")
            problem.retryAfter = wait
            throw problem
        }
        guard let outcome = await core.loginGate.run({ await PasswordCheck.check(core.configuration, user: user, password: password) }) else {
            core.throttle.cancel(user: user, address: address)
            var problem = Problem(.serviceUnavailable, "busy", "Too many logins at once", "too many logins at once: try again shortly")
            problem.retryAfter = 1
            throw problem
        }
        switch outcome {
        case .person(let name, let role):
            core.throttle.succeeded(user: user, address: address)
            core.logger.info("login", metadata: ["person": "\(name)"])
            return (name, role)
        case .refused:
            core.logger.notice("login refused")
            throw Problem(.unauthorized, "login-failed", "Login failed", "wrong user name or password")
        case .passwordNotChecked:
            core.logger.warning("login refused: the database did not ask for a password (trust or peer authentication)")
            throw Problem(
                .unauthorized, "login-failed", "Login failed",
                "the database let this login in without a password, which proves nothing: configure scram-sha-256 for people in pg_hba.conf")
        case .unavailable(let reason):
            core.throttle.cancel(user: user, address: address)
            var problem = Problem(.serviceUnavailable, "unavailable", "Database unavailable", reason)
            problem.retryAfter = 5
            throw problem
        }
    }

    /// Whether a login comes from this server's own pages (or a script), not from another site's
    /// form: a cross-site login would leave the victim's browser logged in as the attacker.
    static func sameOrigin(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" {
            return false
        }
        if let origin = request.headers[HTTPField.Name("Origin")!], origin != "null" {
            let host = request.head.authority ?? ""
            return origin.hasSuffix("://" + host)
        }
        return true
    }

    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.contains("\\"), next.count < 500,
            !next.unicodeScalars.contains(where: { $0.value < 0x21 })
        else { return "/" }
        return next
    }

    static func toLogin(_ request: Request) -> Response {
        let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        let escaped = target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"
        return Response(status: .seeOther, headers: [.location: "/login?next=" + escaped])
    }

    // MARK: Worker page

    static func workerPage(_ request: Request, _ context: DossierContext, identity: Identity, core: ServerCore) async throws -> Response {
        let strings = Strings.of(request)
        let worker = try API.workerID(context)
        let asOf = try request.date("asOf"), knownAt = try request.time("knownAt")
        let (report, trace, levels, posts, places) = try await core.act(identity, fresh: true) { session in
            let ledger = Ledger(session: session, configuration: core.configuration, actingFor: identity.person)
            let report = try await ledger.show(worker: worker, asOf: asOf, knownAt: knownAt)
            let trace = try await ledger.trace(subject: worker)
            let model = ReadModel(session: session)
            let levels = try await model.history(worker: worker, field: .level).effective
            let posts = try await model.history(worker: worker, field: .post).effective
            let places = try await model.history(worker: worker, field: .community).effective
            return (report, trace, levels, posts, places)
        }
        // As known at a past time: only what was recorded by then.
        let entries = trace.entries.filter { knownAt == nil || $0.event.knownFrom <= knownAt! }
        let state = report.state
        var facts: [[String: String]] = []
        func fact(_ key: String, _ value: String?) { facts.append(["label": strings[key], "value": value ?? "—"]) }
        fact("status", state.status.rawValue + (state.exit.map { " (\($0.rawValue) \(state.exitDate.map(\.description) ?? ""))" } ?? ""))
        fact("post", state.post.map { "\($0.rawValue) (\(state.role?.rawValue ?? "—"))" })
        fact("level", state.level.map(String.init))
        fact("community", state.placement.map { "\($0.community), \($0.street), \($0.district), \($0.city)" })
        fact("asOf", report.asOf.description + (report.knownAt.map { " · \(strings["knownAt"]) \($0)" } ?? ""))
        let rows: [[String: Any]] = entries.map { entry in
            var marks: [String] = []
            if !entry.status.correctedBy.isEmpty { marks.append(strings["corrected"]) }
            if entry.status.rescindedBy != nil { marks.append(strings["rescinded"]) }
            if entry.status.overturnedBy != nil { marks.append(strings["overturned"]) }
            if entry.decision.override != nil { marks.append(strings["exception"]) }
            let replaced = (entry.status.correctedBy + [entry.status.rescindedBy, entry.status.overturnedBy].compactMap { $0 })
                .map { $0.uuidString.lowercased() }
            var payload = entry.event.payload
            payload["personal"] = nil
            return [
                "eventId": entry.event.eventID.uuidString.lowercased(), "position": String(entry.event.position),
                "effective": entry.event.effective.description, "decision": entry.event.type, "void": entry.status.isVoid,
                "marks": marks, "replacedBy": replaced, "hasReplaced": !replaced.isEmpty,
                "payload": JSONValue.object(payload).canonicalText, "reference": entry.event.reference,
                "authority": entry.event.authority, "recordedAt": entry.event.recordedAt.description,
                "recordedBy": entry.event.recordedBy,
            ]
        }
        let eligibility: [[String: Any]] = EligibilityKind.allCases.map { kind in
            let result = report.eligibility(kind)
            return ["kind": kind.rawValue, "eligible": result.eligible, "reason": result.reason]
        }
        // After an exit nothing continues: bars and the level line stop at the exit date.
        let end = min(report.asOf, state.exitDate ?? report.asOf)
        let svg = Timeline.svg(
            entries: entries, levels: levels.map { ($0.from, $0.until, $0.value) }, posts: posts.map { ($0.from, $0.until, $0.value) },
            places: places.map { ($0.from, $0.until, $0.value) }, end: end, strings: strings)
        // The printable record of the same date, as known at the same time.
        let parameters = [("asOf", asOf?.description), ("knownAt", knownAt?.description)].compactMap { key, value in
            value.map { key + "=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-:."))) ?? "") }
        }
        let reportLink = "/workers/" + pathEscape(worker) + "/report" + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
        return page(request, identity: identity, title: worker, template: "worker", [
            "worker": worker, "name": report.personal?.displayName ?? "", "asOf": asOf?.description ?? "",
            "knownAt": request.query("knownAt") ?? "", "facts": facts, "timeline": svg, "entries": rows,
            "eligibility": eligibility, "records": identity.records,
            "reportLink": reportLink,
        ])
    }

    // MARK: The printable record

    /// The worker's record as the document `dossier export --report` writes (zh-CN, A4, no script),
    /// for the date `asOf` as known now and, with `knownAt`, as known then. It names the bundle
    /// `/api/workers/{id}/bundle` serves now, with its SHA-256, when the latest checkpoint covers
    /// the record; else it says why there is none.
    static func reportPage(_ request: Request, _ context: DossierContext, identity: Identity, core: ServerCore) async throws -> Response {
        let worker = try API.workerID(context)
        let asOf = try request.date("asOf"), knownAt = try request.time("knownAt")
        let generatedAt = Timestamp(microsecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1_000_000))
        let document = try await core.act(identity, fresh: true) { session in
            let ledger = Ledger(session: session, configuration: core.configuration, actingFor: identity.person)
            let trace = try await ledger.trace(subject: worker)
            var current: WorkerReport?
            var known: WorkerReport?
            if trace.stream.kind == "worker" {
                current = try await ledger.show(worker: worker, asOf: asOf, knownAt: nil)
                if let knownAt { known = try await ledger.show(worker: worker, asOf: current!.asOf, knownAt: knownAt) }
            }
            var bundle: RecordReport.Bundle?
            var absence: String?
            do {
                // The bytes the bundle download serves.
                let bytes = Array((JSONValue.object(try await API.bundle(session, worker: worker)).prettyText() + "\n").utf8)
                bundle = RecordReport.Bundle(fileName: "bundle.json", bytes: bytes, verified: try EvidenceBundle.verify(bytes))
            } catch {
                absence = "\(error)"
            }
            var document = RecordReport(
                subject: worker, stream: trace.stream, current: current, known: known, trace: trace.entries,
                personal: current?.personal ?? trace.personal, reader: RecordReport.Reader(name: identity.person, role: identity.role),
                generatedAt: generatedAt, bundle: bundle, ledger: bundle?.checkpoint.origin)
            document.bundleAbsence = absence
            return document
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8",
                // Its own policy: inline style, nothing else (the pages' policy allows no inline style).
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: document.html)))
    }

    // MARK: Decision forms

    /// A field of a decision form.
    struct FormField: Sendable {
        var name: String
        var kind: String
        var required: Bool
        var choices: [String]
        var min: Int64?
        var max: Int64?
    }

    /// The fields of a decision kind, as the ledger's vocabulary (dossier.event_fields) lists them:
    /// read once per kind (the vocabulary changes only with a migration, and a migration needs a
    /// new program anyway).
    static func fields(of kind: DecisionKind, core: ServerCore) async throws -> [FormField] {
        if let known = core.formFields.withLock({ $0[kind.rawValue] }) { return known }
        let fields = try await core.pool.with(as: nil, metrics: core.metrics) { session in
            try await session.run { connection in
                try connection.query(
                    """
                    SELECT field, kind, required, coalesce(array_to_string(choices, E'\\n'), ''), min_value, max_value FROM dossier.event_fields
                     WHERE event_type = \(kind.rawValue) AND field NOT IN ('override', 'overrideApproval', 'exceptions', 'personal', 'knownSince')
                     ORDER BY NOT required, field
                    """
                ).rows.map { row in
                    FormField(
                        name: try row.decode(String.self, at: 0), kind: try row.decode(String.self, at: 1),
                        required: try row.decode(Bool.self, at: 2),
                        choices: try row.decode(String.self, at: 3).split(separator: "\n").map(String.init),
                        min: try row.decodeIfPresent(Int64.self, at: 4), max: try row.decodeIfPresent(Int64.self, at: 5))
                }
            }
        }
        core.formFields.withLock { $0[kind.rawValue] = fields }
        return fields
    }

    static func decisionForm(
        _ request: Request, identity: Identity, core: ServerCore, kind: DecisionKind, values: [String: String],
        problem: Problem? = nil, recorded: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let strings = Strings.of(request)
        var fields: [[String: Any]] = []
        func add(_ name: String, type: String, required: Bool, choices: [String] = [], min: Int64? = nil, max: Int64? = nil, textarea: Bool = false) {
            var field: [String: Any] = [
                "name": name, "label": strings["field." + name], "type": type, "required": required, "value": values[name] ?? "",
                "choices": choices.map { ["value": $0, "selected": values[name] == $0] }, "hasChoices": !choices.isEmpty,
                "textarea": textarea,
            ]
            if let min { field["min"] = String(min) }
            if let max { field["max"] = String(max) }
            fields.append(field)
        }
        let subjectKey = (kind.subject == .worker || kind.subject == .cadre) ? "worker" : "jurisdiction"
        let listed = try await Self.fields(of: kind, core: core)
        // A correction or rescission amends a worker's decision (`worker`) or a jurisdiction's
        // (`jurisdiction`, listed among its fields): one of the two.
        if !listed.contains(where: { $0.name == subjectKey }) { add(subjectKey, type: "text", required: !kind.amendsOthers) }
        if kind == .hire || kind == .temporaryPost { add("name", type: "text", required: true) }
        add("effective", type: "date", required: true)
        add("authority", type: "text", required: true)
        add("reference", type: "text", required: true)
        for field in listed {
            switch field.kind {
            case "integer": add(field.name, type: "number", required: field.required, min: field.min, max: field.max)
            case "date": add(field.name, type: "date", required: field.required)
            case "object", "array": add(field.name, type: "text", required: field.required, textarea: true)
            default: add(field.name, type: "text", required: field.required, choices: field.choices)
            }
        }
        var context: [String: Any] = [
            "kind": kind.rawValue, "csrf": identity.csrf ?? "", "kinds": DecisionKind.allCases.map { ["value": $0.rawValue, "selected": $0 == kind] },
            "fields": fields, "subjectValue": values["worker"] ?? "", "overrideValue": values["override"] ?? "", "overrideApprovalValue": values["overrideApproval"] ?? "",
            "offerOverride": problem?.extra["overridable"] == .bool(true) || values["override"] != nil || values["overrideApproval"] != nil,
        ]
        if let problem {
            var rules: [[String: String]] = []
            if case .array(let list)? = problem.extra["rules"] {
                for item in list { if case .object(let rule) = item { rules.append(["rule": rule["rule"]?.stringValue ?? "", "message": rule["message"]?.stringValue ?? ""]) } }
            }
            context["problem"] = ["title": problem.title, "detail": problem.detail, "rules": rules, "hasRules": !rules.isEmpty] as [String: Any]
        }
        if let recorded { context["recorded"] = true; context["summary"] = recorded }
        var response = page(request, identity: identity, title: strings["record"], template: "decide", context)
        response.status = status
        return response
    }

    static func submitDecision(_ request: Request, form: Form, identity: Identity, core: ServerCore) async throws -> Response {
        guard let kind = DecisionKind(rawValue: form["decision"] ?? "") else {
            return errorPage(request, status: .badRequest, message: "decision: unknown kind")
        }
        let listed = try await fields(of: kind, core: core)
        var values: [String: String] = [:]
        var object = JSONObject([("decision", .string(kind.rawValue))])
        for (name, value) in form.pairs where !["csrf", "decision"].contains(name) {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            values[name] = value
            guard !trimmed.isEmpty else { continue }
            let fieldKind = listed.first(where: { $0.name == name })?.kind
            switch fieldKind {
            case "integer":
                object[name] = Int64(trimmed).map(JSONValue.integer) ?? .string(trimmed)
            case "object", "array":
                object[name] = (try? JSONParser.parse(trimmed)) ?? .string(trimmed)
            default:
                object[name] = .string(trimmed)
            }
        }
        let decision: Decision
        do {
            decision = try DecisionCodec.decode(.object(object))
        } catch {
            return try await decisionForm(request, identity: identity, core: core, kind: kind, values: values, problem: Problem.from(error), status: .badRequest)
        }
        do {
            let outcome = try await core.act(identity) { session in
                try await Ledger(session: session, configuration: core.configuration, actingFor: identity.person).record(decision)
            }
            let summary = "\(kind.rawValue) \(decision.reference) → \(decision.subject) #\(outcome.position)" + (outcome.duplicate ? " (already recorded)" : "")
            var kept: [String: String] = [:]
            kept["worker"] = decision.subject
            return try await decisionForm(request, identity: identity, core: core, kind: kind, values: kept, recorded: summary, status: outcome.duplicate ? .ok : .created)
        } catch {
            let problem = Problem.from(error)
            if problem.status == .serviceUnavailable { throw error }
            return try await decisionForm(request, identity: identity, core: core, kind: kind, values: values, problem: problem, status: problem.status)
        }
    }

    // MARK: Lists and charts

    static func placeFilters(_ request: Request, _ strings: Strings, knownAt: Bool) -> [[String: Any]] {
        var filters: [[String: Any]] = ["city", "district", "street", "community"].map {
            ["name": $0, "label": strings[$0], "type": "text", "value": request.query($0) ?? ""]
        }
        filters.append(["name": "asOf", "label": strings["asOf"], "type": "date", "value": request.query("asOf") ?? ""])
        if knownAt { filters.append(["name": "knownAt", "label": strings["knownAt"], "type": "date", "value": request.query("knownAt") ?? ""]) }
        return filters
    }

    static func choiceFilter(_ name: String, _ label: String, _ choices: [(String, String)], _ selected: String) -> [String: Any] {
        ["name": name, "label": label, "hasChoices": true, "choices": choices.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == selected] }]
    }

    static func passQuery(_ request: Request, _ names: [String]) -> String {
        names.compactMap { name in
            request.query(name).map { name + "=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "&" }
        }.joined()
    }

    static func row(_ texts: [String]) -> [String: Any] {
        ["cells": texts.map { ["text": $0] }]
    }

    static func listPage(
        _ request: Request, identity: Identity, heading: String, filters: [[String: Any]], csv: String?, note: String?,
        entries: [ReadModel.RosterEntry], reason: Bool
    ) -> Response {
        let strings = Strings.of(request)
        var columns = [strings["worker"]]
        let named = entries.contains { $0.name != nil }
        if named { columns.append(strings["name"]) }
        columns += [strings["status"], strings["post"], strings["level"], strings["community"]]
        if reason { columns.append(strings["reason"]) }
        let rows: [[String: Any]] = entries.map { entry in
            var cells: [[String: String]] = [["text": entry.worker, "link": "/workers/" + pathEscape(entry.worker)]]
            if named { cells.append(["text": entry.name ?? "—"]) }
            cells += [
                ["text": entry.status], ["text": entry.post.map { "\($0) (\(entry.role ?? "—"))" } ?? "—"],
                ["text": entry.level.map(String.init) ?? "—"], ["text": "\(entry.community), \(entry.street), \(entry.district)"],
            ]
            if reason { cells.append(["text": entry.reason ?? ""]) }
            return ["cells": cells]
        }
        var context: [String: Any] = [
            "heading": heading, "filters": filters, "hasFilters": !filters.isEmpty, "columns": columns, "rows": rows,
            "hasRows": !rows.isEmpty, "after": "<p>\(entries.count) \(strings["workers"])</p>",
        ]
        if let csv { context["csv"] = csv }
        if let note { context["note"] = note }
        return wrap(request, identity: identity, title: heading, body: Templates.render("list", base(request) + context))
    }

    /// A bar per jurisdiction: headcount against its quota (18 per 10,000 residents, or the ratio in force).
    static func quotaChart(_ lines: [ReadModel.QuotaLine], _ strings: Strings) -> String {
        guard !lines.isEmpty else { return "" }
        let top = Double(max(1, lines.map { max($0.headcount, $0.quota ?? 0) }.max() ?? 1))
        let rowHeight = 26.0, left = 170.0, width = 900.0
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width) + 120) \(Int(rowHeight * Double(lines.count) + 10))\" role=\"img\" aria-label=\"\(Timeline.escape(strings["quota"]))\">"
        for (index, line) in lines.enumerated() {
            let y = Double(index) * rowHeight + 4
            let barWidth = (width - left) * Double(line.headcount) / top
            let over = (line.gap ?? 0) < 0
            svg += "<text x=\"0\" y=\"\(y + 15)\">\(Timeline.escape(String(line.jurisdiction.prefix(20))))</text>"
            svg += "<rect class=\"\(over ? "over" : "h")\" x=\"\(left)\" y=\"\(y)\" width=\"\(max(1, barWidth))\" height=\"18\"><title>\(line.headcount)</title></rect>"
            if let quota = line.quota {
                let x = left + (width - left) * Double(quota) / top
                svg += "<line class=\"q\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(y - 2)\" y2=\"\(y + 20)\"><title>\(strings["quota"]) \(quota)</title></line>"
                svg += "<text x=\"\(width + 8)\" y=\"\(y + 15)\">\(line.headcount) / \(quota)</text>"
            } else {
                svg += "<text x=\"\(width + 8)\" y=\"\(y + 15)\">\(line.headcount) / ?</text>"
            }
        }
        return svg + "</svg>"
    }

    static func integrityPage(_ request: Request, identity: Identity, core: ServerCore, flash: String?) async throws -> Response {
        let strings = Strings.of(request)
        let checkpoint = try await core.act(identity) { session in try await session.run { try StoredCheckpoint.latest($0) } }
        var rows: [[String: Any]] = []
        if let checkpoint {
            rows.append(row([strings["latestCheckpoint"], "\(strings["size"]) \(checkpoint.size)", "\(strings["root"]) \(checkpoint.root.hex)"]))
        }
        if let last = core.verifications.get() {
            rows.append(row([strings["lastVerify"], last["verified"] == .bool(true) ? "✔" : "✘", JSONValue.object(last).canonicalText]))
        }
        let form = "<form method=\"post\" action=\"/integrity/verify\"><input type=\"hidden\" name=\"csrf\" value=\"\(Timeline.escape(identity.csrf ?? ""))\"><button type=\"submit\">\(Timeline.escape(strings["verifyNow"]))</button></form>"
            + (checkpoint.map { "<pre class=\"payload\">\(Timeline.escape($0.note))</pre>" } ?? "")
        var context: [String: Any] = [
            "heading": strings["integrity"], "columns": ["", "", ""], "rows": rows, "hasRows": !rows.isEmpty, "after": form,
        ]
        if let flash { context["note"] = flash }
        return wrap(request, identity: identity, title: strings["integrity"], body: Templates.render("list", base(request) + context))
    }

    // MARK: Pages

    static func base(_ request: Request) -> [String: Any] {
        ["t": Strings.of(request).all]
    }

    static func page(_ request: Request, identity: Identity?, title: String, template: String, _ context: [String: Any]) -> Response {
        wrap(request, identity: identity, title: title, body: Templates.render(template, base(request) + context))
    }

    static func wrap(_ request: Request, identity: Identity?, title: String, body: String) -> Response {
        let strings = Strings.of(request)
        var context: [String: Any] = ["t": strings.all, "lang": strings.lang, "otherLang": strings.english ? "zh" : "en", "title": title, "body": body]
        if let identity {
            context["identity"] = ["person": identity.person, "role": identity.role, "csrf": identity.csrf ?? "", "records": identity.records] as [String: Any]
        }
        var response = Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: Templates.render("layout", context))))
        if let choice = request.uri.queryParameters.get("lang"), choice == "en" || choice == "zh" {
            response.setCookie(Cookie(name: "dossier_lang", value: choice, maxAge: 365 * 86400, path: "/", httpOnly: true, sameSite: .strict))
        }
        return response
    }

    static func errorPage(_ request: Request, status: HTTPResponse.Status, message: String?) -> Response {
        let strings = Strings.of(request)
        let heading = status == .notFound ? strings["notFound"] : status == .forbidden ? strings["forbidden"] : strings["error"]
        var response = wrap(
            request, identity: nil, title: heading,
            body: Templates.render("error", base(request) + ["heading": heading, "message": message ?? heading]))
        response.status = status
        return response
    }

    static func pathEscape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? text
    }
}

func + (left: [String: Any], right: [String: Any]) -> [String: Any] {
    left.merging(right) { _, new in new }
}

/// An `application/x-www-form-urlencoded` body, in order.
struct Form: Sendable {
    let pairs: [(String, String)]

    init(_ request: Request) async throws {
        let bytes = try await request.bytes(limit: 1 << 20)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Problem(.badRequest, "invalid-input", "Invalid form", "the form is not valid UTF-8")
        }
        pairs = text.split(separator: "&").map { part in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decode(pieces[0]), pieces.count > 1 ? decode(pieces[1]) : "")
        }
    }

    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
}
