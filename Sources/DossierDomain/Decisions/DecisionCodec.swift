import Foundation

/// Reads decisions from JSON and events, and writes their payloads.
///
/// Both directions live here so that what is stored is exactly what can be read back: a stored
/// event is decoded by the same code as the JSON a user sent, in `.stored` mode.
public enum DecisionCodec {
    enum Mode {
        /// A decision sent by a user: personal data in clear, no digest.
        case input
        /// A decision rebuilt from the log: personal data replaced by its digest.
        case stored
    }

    /// The schema version each kind's payload is written with today.
    public static func currentSchemaVersion(of kind: DecisionKind) -> Int {
        kind == .levelChange ? 2 : 1
    }

    /// The common fields every decision has, and the key its subject goes under.
    static let commonFields = ["decision", "effective", "authority", "reference", "override", "overrideApproval"]

    /// Fields the ledger adds to a payload: the personal-data seal and the policy exceptions
    /// judged when the decision was recorded.
    static let storedOnlyFields = ["personal", "exceptions"]

    static func subjectKey(_ kind: DecisionKind) -> String {
        switch kind.subject {
        case .worker, .cadre: "worker"
        case .jurisdiction, .policy: "jurisdiction"
        }
    }

    // MARK: Reading

    /// Parses and decodes one decision from JSON text.
    public static func decode(json text: String) throws(InvalidDecision) -> Decision {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw InvalidDecision(field: nil, "malformed JSON at column \(error.column): \(error.reason)")
        }
        return try decode(value)
    }

    /// Decodes one decision sent by a user: its texts put in NFC and checked by
    /// `DecisionText.prepare` before any field is read.
    public static func decode(_ value: JSONValue) throws(InvalidDecision) -> Decision {
        guard case .object(let object) = value else {
            throw InvalidDecision(field: nil, "a decision must be a JSON object, found \(value.typeName)")
        }
        return try decode(FieldReader(DecisionText.prepare(object)), mode: .input)
    }

    /// Rebuilds the decision an event records, upgrading old schema versions in code.
    public static func decision(from event: RecordedEvent) throws(InvalidDecision) -> Decision {
        guard let kind = DecisionKind(rawValue: event.type) else {
            throw InvalidDecision(field: "decision", "the event type \"\(event.type)\" is not a decision kind")
        }
        let current = currentSchemaVersion(of: kind)
        guard event.schemaVersion <= current else {
            throw InvalidDecision(
                field: nil,
                "event \(event.eventID) has schema version \(event.schemaVersion) of \(kind.rawValue); "
                    + "this dossier reads up to \(current): use a newer dossier")
        }
        var object = upgrade(event.payload, kind: kind, from: event.schemaVersion)
        object["decision"] = .string(kind.rawValue)
        object["effective"] = .string(event.effective.description)
        object["authority"] = .string(event.authority)
        object["reference"] = .string(event.reference)
        let amended = kind.amendsOthers ? amendedSubject(of: event.stream) : nil
        if amended == .jurisdiction {
            object["jurisdiction"] = .string(event.stream.subject)
        } else if kind.subject != .policy, amended == nil {
            object[subjectKey(kind)] = .string(event.stream.subject)
        }
        // An amendment of a policy keeps the policy's jurisdiction in its payload.
        var decision = try decode(object, mode: .stored)
        if amended != nil { decision.amendedSubject = amended }
        return decision
    }

    /// The kind of stream a correction or rescission recorded in `stream` amends, or nil for a
    /// worker's stream.
    static func amendedSubject(of stream: StreamID) -> DecisionKind.Subject? {
        switch stream.kind {
        case "jurisdiction": .jurisdiction
        case "policy": .policy
        default: nil
        }
    }

    /// Upgrades a payload written under an older schema version to the current one.
    ///
    /// - level-change v1 (legacy records) had no `grounds`: they read as `other`.
    static func upgrade(_ payload: JSONObject, kind: DecisionKind, from version: Int) -> JSONObject {
        var payload = payload
        if kind == .levelChange, version < 2, payload["grounds"] == nil {
            payload["grounds"] = .string(LevelGrounds.other.rawValue)
        }
        return payload
    }

    static func decode(_ object: JSONObject, mode: Mode) throws(InvalidDecision) -> Decision {
        try decode(FieldReader(object, trusted: mode == .stored), mode: mode)
    }

    static func decode(_ reader: FieldReader, mode: Mode) throws(InvalidDecision) -> Decision {
        var reader = reader
        guard let kindName = reader.value("decision", required: true) else {
            throw InvalidDecision(reader.problems)
        }
        guard case .string(let kindText) = kindName, let kind = DecisionKind(rawValue: kindText) else {
            let found = kindName.stringValue.map { JSONValue.quotedExcerpt($0) } ?? kindName.typeName
            throw InvalidDecision(
                reader.problems + [
                    FieldProblem(
                        field: "decision",
                        message: "unknown decision kind \(found); known kinds: "
                            + DecisionKind.allCases.map(\.rawValue).joined(separator: ", "))
                ])
        }
        var subject: String?
        var amended: DecisionKind.Subject?
        switch kind.subject {
        case .worker where kind.amendsOthers && reader.object["jurisdiction"] != nil:
            // A correction or rescission of a jurisdiction's decision: `*` is the general
            // policy's; another jurisdiction's may be a population figure, a place or the
            // jurisdiction's policy (the ledger learns which from the decision it amends).
            if reader.object["worker"] != nil {
                reader.problem("worker", "give \"worker\" (a worker's decision) or \"jurisdiction\" (a jurisdiction's), not both")
            }
            subject = reader.jurisdiction("jurisdiction", allowAll: true)
            amended = subject == "*" ? .policy : .jurisdiction
        case .worker, .cadre:
            // A hire may leave the id to the ledger (the next of its district's series).
            subject = kind == .hire && mode == .input && reader.object["worker"] == nil ? "" : reader.identifier("worker")
        case .jurisdiction where kind == .place:
            // The stream follows from the place (its city's, or its district's); given, it must agree.
            subject = reader.object["jurisdiction"] == nil ? nil : reader.jurisdiction("jurisdiction", allowAll: false)
        case .jurisdiction: subject = reader.jurisdiction("jurisdiction", allowAll: false)
        case .policy: subject = "policy"
        }
        let effective = reader.date("effective")
        let authority = reader.text("authority")
        let reference = reader.text("reference")
        let override = reader.text("override", required: false)
        var knownSince: Timestamp?
        if let text = reader.text("knownSince", required: false) {
            knownSince = Self.knownSince(text)
            if knownSince == nil {
                reader.problem(
                    "knownSince",
                    "\(JSONValue.quotedExcerpt(text)) is not an RFC 3339 time (2010-03-01T09:30:00+08:00) or a date (2010-03-01, its first instant in UTC)")
            }
        }
        let overrideApproval = reader.text("overrideApproval", required: false)
        if mode == .input {
            // Why and who approved come together: a decision recorded despite a policy rule names both.
            if override != nil, overrideApproval == nil, reader.object["overrideApproval"] == nil {
                reader.problem(
                    "overrideApproval",
                    "is required with \"override\": give the reference of the document approving the exception "
                        + "(who approved it), beside the justification")
            }
            if overrideApproval != nil, override == nil, reader.object["override"] == nil {
                reader.problem(
                    "override", "is required with \"overrideApproval\": an approval is given only with the justification of an override")
            }
        }
        let eventID = mode == .input && reader.object["eventId"] != nil ? reader.eventID("eventId") : nil
        var personal: PersonalData?
        if mode == .stored {
            // Written by the ledger beside the decision's own fields.
            reader.allow(storedOnlyFields)
        }
        var body = readBody(kind, &reader, mode: mode, effective: effective, personal: &personal)
        // A jurisdiction's decisions carry no personal data: a corrected place's `name` is a field.
        if amended != nil, case .correction(var correction)? = body, let fields = personal?.fields {
            for (key, value) in fields { correction.changes[key] = value }
            personal = nil
            body = .correction(correction)
        }
        reader.refuseUnknown(hint: "a \(kind.rawValue) decision")
        if case .place(let change) = body {
            if let given = subject, given != change.jurisdiction {
                reader.problem(
                    "jurisdiction",
                    "a \(change.kind.rawValue) \(change.within.map { "within \($0) " } ?? "")is recorded in \(change.jurisdiction), not \(given)")
            }
            subject = change.jurisdiction
        }
        guard reader.problems.isEmpty, let subject, let effective, let authority, let reference, let body else {
            throw InvalidDecision(reader.problems)
        }
        var decision = Decision(
            kind: kind, subject: subject, effective: effective, authority: authority, reference: reference,
            override: override, body: body, personal: personal)
        decision.eventID = eventID
        decision.amendedSubject = amended
        decision.knownSince = knownSince
        decision.overrideApproval = overrideApproval
        return decision
    }

    /// A `knownSince` as written: an RFC 3339 time, or a date meaning its first instant in UTC.
    public static func knownSince(_ text: String) -> Timestamp? {
        if let date = CalendarDate(text) { return Timestamp(startOf: date) }
        guard text.utf8.count >= 20, Array(text.utf8)[10] == UInt8(ascii: "T") else { return nil }
        return Timestamp(parsing: text)
    }

    /// Reads the personal fields a decision may carry (`name` required where `requireName`).
    static func readPersonal(_ reader: inout FieldReader, mode: Mode, requireName: Bool) -> PersonalData? {
        if mode == .stored { return nil }
        var fields = JSONObject()
        if let name = reader.text("name", required: requireName) { fields["name"] = .string(name) }
        if let id = reader.text("idNumber", required: false) { fields["idNumber"] = .string(id) }
        if let birth = reader.date("birthDate", required: false) { fields["birthDate"] = .string(birth.description) }
        if let phone = reader.text("phone", required: false) { fields["phone"] = .string(phone) }
        return fields.isEmpty ? nil : PersonalData(fields: fields)
    }

    static func readBody(
        _ kind: DecisionKind, _ reader: inout FieldReader, mode: Mode, effective: CalendarDate?,
        personal: inout PersonalData?
    ) -> Decision.Body? {
        switch kind {
        case .hire:
            personal = readPersonal(&reader, mode: mode, requireName: true)
            let placement = reader.placement(requireCity: true)
            let post = reader.choice("post", Post.self)
            let role = reader.choice("role", Role.self)
            let level = reader.integer("level", in: 1...18)
            let education = reader.choice("education", Education.self)
            let personalCorrection = reader.text("personalCorrection", required: false)
            guard let placement, let post, let role, let level, let education else { return nil }
            return .hire(
                Decision.Hire(
                    placement: placement, post: post, role: role, level: level, education: education,
                    personalCorrection: personalCorrection))
        case .levelChange:
            let level = reader.integer("level", in: 1...18)
            let grounds = reader.choice("grounds", LevelGrounds.self)
            guard let level, let grounds else { return nil }
            return .levelChange(level: level, grounds: grounds)
        case .postChange:
            let post = reader.choice("post", Post.self)
            let role = reader.choice("role", Role.self)
            guard let post, let role else { return nil }
            return .postChange(post: post, role: role)
        case .transfer:
            guard let placement = reader.placement(requireCity: false) else { return nil }
            return .transfer(placement)
        case .assessment:
            let year = reader.integer("year", in: 1950...2199)
            let grade = reader.choice("grade", Grade.self)
            guard let year, let grade else { return nil }
            if let effective, year > effective.year {
                reader.problem("year", "an assessment of \(year) cannot take effect on \(effective), before that year")
                return nil
            }
            return .assessment(year: year, grade: grade)
        case .qualification:
            return reader.choice("certificate", Certificate.self).map { .qualification(certificate: $0) }
        case .training:
            let kind = reader.choice("kind", TrainingKind.self)
            let hours = reader.integer("hours", in: 1...2000)
            guard let kind, let hours else { return nil }
            return .training(kind: kind, hours: hours)
        case .secondment:
            let to = reader.text("to")
            let level = reader.choice("toLevel", SecondmentLevel.self)
            let until = reader.date("until")
            let approval = reader.text("approval", required: false)
            guard let to, let level, let until else { return nil }
            if let effective, until <= effective {
                reader.problem("until", "must be after the effective date \(effective), found \(until)")
                return nil
            }
            return .secondment(Decision.Secondment(to: to, toLevel: level, until: until, approval: approval))
        case .temporaryPost:
            personal = readPersonal(&reader, mode: mode, requireName: true)
            let agency = reader.text("homeAgency")
            let community = reader.text("community")
            // Where the community lies (optional: temporary posts recorded before the gazetteer have none).
            let street = reader.text("street", required: false)
            let district = reader.text("district", required: false)
            let city = reader.text("city", required: false)
            for (key, value) in [("district", district), ("city", city)] where value?.contains("/") == true {
                reader.problem(key, "must not contain a slash")
            }
            let role = reader.choice("role", Role.self)
            let until = reader.date("until")
            let postKind = reader.choice("kind", TemporaryPostKind.self)
            guard let agency, let community, let role, let until, let postKind else { return nil }
            if let effective, until <= effective {
                reader.problem("until", "must be after the effective date \(effective), found \(until)")
                return nil
            }
            return .temporaryPost(
                Decision.TemporaryPost(
                    homeAgency: agency, community: community, street: street, district: district, city: city, role: role, until: until,
                    kind: postKind))
        case .misconduct:
            let description = reader.text("description")
            let sanction = reader.choice("sanction", Sanction.self)
            guard let description, let sanction else { return nil }
            return .misconduct(description: description, sanction: sanction)
        case .faultTolerance:
            let misconduct = reader.eventID("misconduct")
            let ruling = reader.choice("ruling", FaultRuling.self)
            let sanction = reader.choice("sanction", Sanction.self, required: false)
            guard let misconduct, let ruling else { return nil }
            if sanction != nil, ruling != .mitigated {
                reader.problem("sanction", "only a mitigated ruling sets a new sanction")
                return nil
            }
            return .faultTolerance(misconduct: misconduct, ruling: ruling, sanction: sanction)
        case .dismissal:
            return reader.text("grounds").map { .dismissal(grounds: $0) }
        case .resignation: return .resignation
        case .retirement: return .retirement
        case .civilService: return .civilService
        case .publicInstitution: return .publicInstitution
        case .streetLeadership: return .streetLeadership
        case .secondmentEnd: return .secondmentEnd
        case .temporaryPostEnd: return .temporaryPostEnd
        case .appealRuling:
            let appealed = reader.eventID("appealed")
            let outcome = reader.choice("outcome", AppealOutcome.self)
            guard let appealed, let outcome else { return nil }
            return .appealRuling(appealed: appealed, outcome: outcome)
        case .rescission:
            let target = reader.eventID("rescinds")
            let grounds = reader.text("grounds")
            guard let target, let grounds else { return nil }
            return .rescission(rescinds: target, grounds: grounds)
        case .correction:
            let target = reader.eventID("corrects")
            let newEffective = reader.date("correctedEffective", required: false)
            // Every other field is a corrected field of the target's kind, checked later.
            var changes = JSONObject()
            var refusedChanges = false
            for (key, value) in reader.object where !reader.used.contains(key) && !commonFields.contains(key)
                && key != subjectKey(.correction)
            {
                if mode == .stored, storedOnlyFields.contains(key) { continue }
                if reader.refused.contains(key) {
                    refusedChanges = true  // reported already
                    continue
                }
                // A corrected text obeys the rules of its field (its kind is checked later).
                if mode == .input, case .string(let text) = value,
                    let reason = DecisionText.problem(text, DecisionText.limit(of: key))
                {
                    reader.problem(key, reason)
                    refusedChanges = true
                    continue
                }
                changes[key] = value
            }
            reader.allow(changes.keys)
            guard let target else { return nil }
            let carriesPersonal = mode == .stored
                ? reader.object["personal"] != nil : changes.keys.contains(where: PersonalData.fieldNames.contains)
            if changes.isEmpty, newEffective == nil, !carriesPersonal, !refusedChanges {
                reader.problem(nil, "a correction must give at least one corrected field or correctedEffective")
                return nil
            }
            for key in ["decision", "worker", "corrects", "personal", "against"] where changes[key] != nil {
                reader.problem(key, "cannot be corrected")
            }
            if mode == .input {
                let personalKeys = changes.keys.filter(PersonalData.fieldNames.contains)
                if !personalKeys.isEmpty {
                    var fields = JSONObject()
                    for key in personalKeys {
                        fields[key] = changes[key]
                        changes[key] = nil
                    }
                    personal = PersonalData(fields: fields)
                }
            }
            return .correction(Decision.Correction(corrects: target, changes: changes, correctedEffective: newEffective))
        case .population:
            let year = reader.integer("year", in: 1950...2199)
            let population = reader.integer("urbanPopulation", in: 1...100_000_000)
            guard let year, let population else { return nil }
            return .population(year: year, urbanPopulation: population)
        case .selection:
            let purpose = reader.choice("for", SelectionPurpose.self)
            let selected = reader.identifierList("selected", maximum: Decision.Selection.maximumNames)
            let passedOver = reader.identifierList("passedOver", maximum: Decision.Selection.maximumNames)
            let criteria = reader.text("criteria")
            guard let purpose, let selected, let passedOver, let criteria else { return nil }
            if selected.isEmpty, passedOver.isEmpty {
                reader.problem("selected", "a selection names at least one worker, in \"selected\" or \"passedOver\"")
                return nil
            }
            if let both = selected.first(where: passedOver.contains) {
                reader.problem("passedOver", "\(JSONValue.quotedExcerpt(both)) is both selected and passed over; name each worker once")
                return nil
            }
            return .selection(Decision.Selection(purpose: purpose, selected: selected, passedOver: passedOver, criteria: criteria))
        case .appeal:
            let against = reader.eventID("against")
            let grounds = reader.text("grounds")
            guard let against, let grounds else { return nil }
            return .appeal(against: against, grounds: grounds)
        case .place:
            let placeKind = reader.choice("kind", PlaceKind.self)
            let action = reader.choice("action", PlaceAction.self)
            let name = reader.text("name", limit: DecisionText.place)
            let within = reader.text("within", required: false, limit: DecisionText.placePath)
            let newName = reader.text("newName", required: false, limit: DecisionText.place)
            let into = reader.text("into", required: false, limit: DecisionText.placePath)
            guard let placeKind, let action, let name else { return nil }
            let change = PlaceChange(kind: placeKind, action: action, name: name, within: within, newName: newName, into: into)
            let shape = change.shapeProblems
            for problem in shape { reader.problem(problem.field, problem.message) }
            return shape.isEmpty ? .place(change) : nil
        case .policy:
            let jurisdiction = reader.jurisdiction("jurisdiction", allowAll: true)
            let parameters = reader.object("parameters")
            guard let jurisdiction, let parameters else { return nil }
            let problems = PolicyParameters.validate(parameters)
            guard problems.isEmpty else {
                for problem in problems { reader.problem(problem.field, problem.message) }
                return nil
            }
            return .policy(PolicyParameters.Changes(jurisdiction: jurisdiction, values: parameters))
        }
    }

    // MARK: Writing

    /// The fields of a decision an event stores (besides its columns), without personal data.
    public static func payload(of decision: Decision) -> JSONObject {
        var payload = JSONObject()
        func put(_ key: String, _ value: String) { payload[key] = .string(value) }
        func put(_ key: String, _ value: Int) { payload[key] = .integer(Int64(value)) }
        switch decision.body {
        case .hire(let hire):
            putPlacement(hire.placement, into: &payload)
            put("post", hire.post.rawValue)
            put("role", hire.role.rawValue)
            put("level", hire.level)
            put("education", hire.education.rawValue)
            if let why = hire.personalCorrection { put("personalCorrection", why) }
        case .levelChange(let level, let grounds):
            put("level", level)
            put("grounds", grounds.rawValue)
        case .postChange(let post, let role):
            put("post", post.rawValue)
            put("role", role.rawValue)
        case .transfer(let placement):
            putPlacement(placement, into: &payload)
        case .assessment(let year, let grade):
            put("year", year)
            put("grade", grade.rawValue)
        case .qualification(let certificate):
            put("certificate", certificate.rawValue)
        case .training(let kind, let hours):
            put("kind", kind.rawValue)
            put("hours", hours)
        case .secondment(let secondment):
            put("to", secondment.to)
            put("toLevel", secondment.toLevel.rawValue)
            put("until", secondment.until.description)
            if let approval = secondment.approval { put("approval", approval) }
        case .temporaryPost(let post):
            put("homeAgency", post.homeAgency)
            put("community", post.community)
            if let street = post.street { put("street", street) }
            if let district = post.district { put("district", district) }
            if let city = post.city { put("city", city) }
            put("role", post.role.rawValue)
            put("until", post.until.description)
            put("kind", post.kind.rawValue)
        case .misconduct(let description, let sanction):
            put("description", description)
            put("sanction", sanction.rawValue)
        case .faultTolerance(let misconduct, let ruling, let sanction):
            put("misconduct", misconduct.uuidString.lowercased())
            put("ruling", ruling.rawValue)
            if let sanction { put("sanction", sanction.rawValue) }
        case .dismissal(let grounds):
            put("grounds", grounds)
        case .appealRuling(let appealed, let outcome):
            put("appealed", appealed.uuidString.lowercased())
            put("outcome", outcome.rawValue)
        case .correction(let correction):
            for (key, value) in correction.changes { payload[key] = value }
            put("corrects", correction.corrects.uuidString.lowercased())
            if let date = correction.correctedEffective { put("correctedEffective", date.description) }
        case .rescission(let target, let grounds):
            put("rescinds", target.uuidString.lowercased())
            put("grounds", grounds)
        case .population(let year, let population):
            put("year", year)
            put("urbanPopulation", population)
        case .policy(let changes):
            put("jurisdiction", changes.jurisdiction)
            payload["parameters"] = .object(changes.values)
        case .selection(let selection):
            put("for", selection.purpose.rawValue)
            payload["selected"] = .array(selection.selected.map(JSONValue.string))
            payload["passedOver"] = .array(selection.passedOver.map(JSONValue.string))
            put("criteria", selection.criteria)
        case .appeal(let against, let grounds):
            put("against", against.uuidString.lowercased())
            put("grounds", grounds)
        case .place(let change):
            put("kind", change.kind.rawValue)
            put("action", change.action.rawValue)
            put("name", change.name)
            if let within = change.within { put("within", within) }
            if let newName = change.newName { put("newName", newName) }
            if let into = change.into { put("into", into) }
        case .resignation, .retirement, .civilService, .publicInstitution, .streetLeadership, .secondmentEnd,
            .temporaryPostEnd:
            break
        }
        if decision.amendedSubject == .policy { put("jurisdiction", decision.subject) }
        if let override = decision.override { put("override", override) }
        if let knownSince = decision.knownSince { put("knownSince", knownSince.description) }
        if let approval = decision.overrideApproval { put("overrideApproval", approval) }
        return payload
    }

    static func putPlacement(_ placement: Decision.Placement, into payload: inout JSONObject) {
        payload["community"] = .string(placement.community)
        payload["street"] = .string(placement.street)
        payload["district"] = .string(placement.district)
        // A transfer that left the city out and was not resolved yet.
        if !placement.city.isEmpty { payload["city"] = .string(placement.city) }
    }

    /// The decision as the JSON a user would send (personal data included when known).
    public static func json(of decision: Decision) -> JSONObject {
        var object = JSONObject()
        object["decision"] = .string(decision.kind.rawValue)
        switch decision.subjectKind {
        case .worker, .cadre: object["worker"] = .string(decision.subject)
        case .jurisdiction: object["jurisdiction"] = .string(decision.subject)
        case .policy: break  // the payload names the jurisdiction
        }
        object["effective"] = .string(decision.effective.description)
        object["authority"] = .string(decision.authority)
        object["reference"] = .string(decision.reference)
        for (key, value) in payload(of: decision) { object[key] = value }
        if let personal = decision.personal {
            for (key, value) in personal.fields { object[key] = value }
        }
        return object
    }
}

extension FieldReader {
    /// A jurisdiction: `City` or `City/District` (or `*` for policy that applies everywhere).
    mutating func jurisdiction(_ key: String, allowAll: Bool) -> String? {
        guard let text = text(key, limit: DecisionText.jurisdiction) else { return nil }
        if allowAll, text == "*" { return text }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let place = DecisionText.place
        guard (1...2).contains(parts.count),
            parts.allSatisfy({
                !$0.isEmpty && $0.utf8.count <= place.bytes && $0.unicodeScalars.count <= place.characters!
                    && $0.trimmingCharacters(in: .whitespaces) == $0
            })
        else {
            problem(
                key,
                "expected a city or \"City/District\"" + (allowAll ? " or \"*\"" : "")
                    + ", each part at most \(place.bytes) bytes of UTF-8 and \(place.characters!) characters")
            return nil
        }
        return text
    }

    /// community, street, district (and city, required on hire).
    mutating func placement(requireCity: Bool) -> Decision.Placement? {
        let community = text("community")
        let street = text("street")
        let district = text("district")
        let city = text("city", required: requireCity)
        for (key, value) in [("district", district), ("city", city)] where value?.contains("/") == true {
            problem(key, "must not contain a slash")
            return nil
        }
        guard let community, let street, let district else { return nil }
        // A transfer without a city stays in the worker's city; filled in by the rules.
        return Decision.Placement(community: community, street: street, district: district, city: city ?? "")
    }
}
