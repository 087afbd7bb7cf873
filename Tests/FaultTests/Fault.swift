/// A fault decided by the nemesis: what, on which process (the index among its role's
/// processes), and for how long.
struct Fault: Hashable, Sendable, CustomStringConvertible {
    var kind: FaultKind
    var target: Int
    var duration: Duration

    var description: String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return "\(self.kind.rawValue) \(self.kind.role.rawValue)-\(self.target + 1) for \(milliseconds) ms"
    }
}

/// A fault and when, from the start of the run, it is injected; it is healed `duration` later.
struct ScheduledFault: Hashable, Sendable {
    var at: Duration
    var fault: Fault
    var healAt: Duration { self.at + self.fault.duration }
}
