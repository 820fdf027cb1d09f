import Foundation

extension PlaceBook {
    /// The rule broken by the places a decision names (refused: `unknown-place`, structural),
    /// and what could not be checked (warned: `no-gazetteer`, a city without a gazetteer).
    ///
    /// Hires, transfers, temporary posts, population and policy decisions name places that exist
    /// on their effective date. A city for which no place was ever established is not checked.
    public func check(_ decision: Decision) -> (violations: [RuleViolation], warnings: [RuleViolation]) {
        let date = decision.effective
        var paths: [[String]] = []
        var violations: [RuleViolation] = []
        var warnings: [RuleViolation] = []
        switch decision.body {
        case .hire(let hire):
            paths.append([hire.placement.city, hire.placement.district, hire.placement.street, hire.placement.community])
        case .transfer(let placement) where !placement.city.isEmpty:
            paths.append([placement.city, placement.district, placement.street, placement.community])
        case .temporaryPost(let post):
            if let city = post.city {
                if let district = post.district, let street = post.street {
                    paths.append([city, district, street, post.community])
                } else if hasGazetteer(city: city) {
                    violations.append(
                        RuleViolation(
                            .unknownPlace,
                            "a temporary post in \(city) names the community's street and district (\"street\", \"district\"): "
                                + "community names repeat across districts"))
                } else {
                    paths.append([city])
                }
            } else if !isEmpty {
                warnings.append(
                    RuleViolation(
                        .noGazetteer,
                        "the temporary post names no city: its community \(post.community) is not checked; give \"street\", "
                            + "\"district\" and \"city\""))
            }
        case .population:
            paths.append(Self.components(decision.subject))
        case .policy(let changes) where changes.jurisdiction != "*":
            paths.append(Self.components(changes.jurisdiction))
        default:
            break
        }
        for path in paths {
            guard let city = path.first else { continue }
            guard hasGazetteer(city: city) else {
                let known = Self.closest(to: city, among: Array(cities))
                warnings.append(
                    RuleViolation(
                        .noGazetteer,
                        "\(city) has no gazetteer: places not checked; record its places (dossier places) or import with --create-places"
                            + (known.isEmpty ? "" : " (did you mean \(known.joined(separator: " or "))?)")))
                continue
            }
            if case .failure(let unknown) = resolve(path, on: date) {
                violations.append(RuleViolation(.unknownPlace, unknown.description))
            }
        }
        return (violations, warnings)
    }

    /// The problems a place decision (to be recorded as `eventID`) has, and those it newly gives
    /// recorded place decisions (a retroactive establishment of a name a later one takes, say).
    public func problems(of decision: Decision, eventID: UUID) -> [RuleViolation] {
        guard case .place(let change) = decision.body else { return [] }
        // A change that comes last in the fold can only be invalid itself: the changes before it
        // are folded as they were. (No copy of the book is made for it.)
        if comesLast(decision.effective) {
            return problem(applying: change, on: decision.effective).map { [RuleViolation(.placeChange, $0)] } ?? []
        }
        let after = adding(eventID: eventID, effective: decision.effective, change)
        var violations = (after.problems[eventID] ?? []).map { RuleViolation(.placeChange, $0) }
        for (id, messages) in after.problems where id != eventID {
            let fresh = messages.filter { !(problems[id] ?? []).contains($0) }
            guard let recorded = changes.first(where: { $0.eventID == id }) else { continue }
            violations += fresh.map {
                RuleViolation(
                    .placeChange,
                    "it would make the recorded \(recorded.change.action.rawValue) of \(recorded.change.kind.rawValue) "
                        + "\(recorded.change.path) (\(recorded.effective)) invalid: \($0)")
            }
        }
        return violations
    }
}

extension Evaluator {
    /// Judges `decision` by the rules (`evaluateRules`) and by the gazetteer: the places it
    /// names must exist on its date (structural), and a place decision must fit the gazetteer.
    public static func evaluate(
        _ decision: Decision, eventID: UUID, history stored: [StoredDecision], context: RuleContext
    ) -> Verdict {
        var verdict = evaluateRules(decision, eventID: eventID, history: stored, context: context)
        if decision.kind == .place {
            verdict.violations = context.places.problems(of: verdict.decision, eventID: eventID) + verdict.violations
        } else {
            let places = context.places.check(verdict.decision)
            verdict.violations = places.violations + verdict.violations
            verdict.warnings += places.warnings
        }
        return verdict
    }
}

extension PlaceBook {
    /// A placement span cut where its city or district was renamed or merged, each piece under the
    /// city and district in force then (street and community as recorded): how quotas count a
    /// worker whose district was merged into another from the merge on.
    public func inForce(_ span: WorkerState.PlacementSpan) -> [WorkerState.PlacementSpan] {
        let recorded = [span.placement.city, span.placement.district]
        guard hasGazetteer(city: recorded[0]), case .success = resolve(recorded, on: span.from) else { return [span] }
        let cuts = Set(
            places.filter { $0.kind == .city || $0.kind == .district }
                .flatMap { place in place.names.dropFirst().map(\.from) + place.parents.dropFirst().map(\.from) + (place.mergedInto != nil ? [place.ended!] : []) }
        ).filter { cut in cut > span.from && (span.until.map { cut < $0 } ?? true) }.sorted()
        guard !cuts.isEmpty else { return [span] }
        var pieces: [WorkerState.PlacementSpan] = []
        for (index, start) in ([span.from] + cuts).enumerated() {
            var piece = span
            piece.from = start
            piece.until = index < cuts.count ? cuts[index] : span.until
            if let path = inForce(recorded, from: span.from, on: start) {
                piece.placement.city = path[0]
                piece.placement.district = path[1]
            }
            if let last = pieces.last, last.placement == piece.placement {
                pieces[pieces.count - 1].until = piece.until
            } else {
                pieces.append(piece)
            }
        }
        return pieces
    }
}
