/// Which bookies count as lost: the auditor's decision, a pure value driven by the
/// instants it is given.
///
/// A bookie the cluster knows (it has a cookie, or a ledger names it) that is not
/// registered is missing from the first audit that sees it so; it is lost once missing
/// for `grace` (a bookie restarting or paused briefly is not), or at once when
/// decommissioned. A bookie that registers again is no longer missing.
public struct BookieAbsence<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    public let grace: Duration
    /// When each missing bookie was first seen missing.
    public private(set) var missingSince: [String: Instant] = [:]

    public init(grace: Duration) {
        self.grace = grace
    }

    /// Takes in one audit's view and returns the lost bookies.
    public mutating func observe(now: Instant, known: Set<String>, registered: Set<String>, decommissioned: Set<String>) -> Set<String> {
        let missing = known.subtracting(registered)
        self.missingSince = self.missingSince.filter { missing.contains($0.key) }
        for bookie in missing where self.missingSince[bookie] == nil { self.missingSince[bookie] = now }
        let overdue = self.missingSince.filter { $0.value.duration(to: now) >= self.grace }.keys
        return Set(overdue).union(decommissioned)
    }
}
