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
