import DossierDomain

/// Why the ledger did not record or could not answer.
public enum LedgerError: Error, Sendable, CustomStringConvertible {
    /// The decision breaks rules; nothing was written.
    case refused(decision: Decision, violations: [RuleViolation])
    /// There is no record of this worker (or cadre).
    case noRecord(String)
    /// The log holds an event this program cannot read.
    case unreadable(position: Int64, reason: String)
    /// Asked as known at a time before the ledger knew anything of the subject.
    case nothingKnown(subject: String, first: Timestamp, claimed: Bool, knownAt: Timestamp)

    public var description: String {
        switch self {
        case .refused(let decision, let violations):
            let overridable = violations.allSatisfy { !$0.rule.isStructural }
            var text = "refused \(decision.kind.rawValue) \(decision.reference) for \(decision.subject): "
                + violations.map(\.description).joined(separator: "; ")
            if overridable, decision.override == nil {
                text += " (a decision carrying \"override\" with a justification and \"overrideApproval\" naming the approving "
                    + "document is recorded despite these rules)"
            } else if !overridable {
                let facts = Array(Set(violations.filter(\.rule.isStructural).map(\.rule.rawValue))).sorted()
                text += " (" + facts.joined(separator: ", ") + (facts.count == 1 ? " is a fact" : " are facts")
                    + " of the record, which no override bends)"
            }
            return text
        case .noRecord(let subject):
            return "no record of \(subject): nothing is recorded under this id"
        case .unreadable(let position, let reason):
            return "the event at position \(position) cannot be read: \(reason)"
        case .nothingKnown(let subject, let first, let claimed, let knownAt):
            return "the ledger first recorded \(subject) on \(first)"
                + (claimed ? " (as the old system's record, by the knownSince its import gave)" : "")
                + "; nothing was known at \(knownAt)"
        }
    }
}
