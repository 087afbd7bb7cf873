/// The kinds of process a fault strikes.
enum FaultRole: String, CaseIterable, Sendable {
    case broker, bookie, etcd
}

/// One kind of fault the nemesis can inject, and how it is healed.
enum FaultKind: String, CaseIterable, Sendable {
    /// SIGKILL; restarted when healed.
    case killBroker = "kill-broker"
    /// SIGSTOP past the metadata session TTL; SIGCONT when healed.
    case pauseBroker = "pause-broker"
    /// Every link between the broker and etcd blackholed; opened again when healed.
    case isolateBroker = "isolate-broker-from-etcd"
    case killBookie = "kill-bookie"
    case pauseBookie = "pause-bookie"
    /// The bookie's disk (a small tmpfs) filled up; the filler removed when healed.
    case fillBookieDisk = "fill-bookie-disk"
    /// SIGKILL, then a batch cut short after the journal's last record; restarted when healed.
    case tearJournalTail = "tear-journal-tail"
    /// SIGKILL, then a copy of the journal's last batch with one bit flipped appended;
    /// restarted when healed.
    case flipJournalTail = "flip-journal-tail"
    /// Restarted with the testing setting that delays every journal fsync; restarted
    /// without it when healed.
    case slowBookieSync = "slow-bookie-fsync"
    case killEtcd = "kill-etcd-member"
    case pauseEtcd = "pause-etcd-member"
    /// Peers' connections to the member blackholed (they cannot reach it; it can reach
    /// them); opened again when healed.
    case isolateEtcd = "isolate-etcd-member"

    var role: FaultRole {
        switch self {
        case .killBroker, .pauseBroker, .isolateBroker: .broker
        case .killBookie, .pauseBookie, .fillBookieDisk, .tearJournalTail, .flipJournalTail, .slowBookieSync: .bookie
        case .killEtcd, .pauseEtcd, .isolateEtcd: .etcd
        }
    }

    /// Whether the fault stops the target's process until it is healed.
    var stopsProcess: Bool {
        switch self {
        case .killBroker, .killBookie, .tearJournalTail, .flipJournalTail, .killEtcd: true
        default: false
        }
    }
}

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

/// The processes of the cluster under test, counted by role.
struct ClusterShape: Hashable, Sendable {
    var brokers: Int
    var bookies: Int
    var etcdMembers: Int

    func count(_ role: FaultRole) -> Int {
        switch role {
        case .broker: self.brokers
        case .bookie: self.bookies
        case .etcd: self.etcdMembers
        }
    }
}
