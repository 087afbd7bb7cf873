import ClusterTesting

/// Decides faults: a pure value, seeded, so a run's whole schedule follows from its seed
/// and can be replayed and tested without a cluster.
///
/// The rules keep every fault survivable by design: at most one fault per role at a time
/// (one broker of three, one bookie of four — the other three still make an ensemble of
/// three — and one etcd member of three, so a quorum always stands), and a target is
/// never struck twice at once.
struct Nemesis: Sendable {
    struct Settings: Hashable, Sendable {
        var shape: ClusterShape
        /// The metadata session TTL of brokers and bookies: pauses and isolations last longer.
        var sessionTTL: Duration
        /// Time between two injections, chosen uniformly in this range.
        var gap: ClosedRange<Duration>
        /// The kinds to choose from (all by default).
        var kinds: [FaultKind] = FaultKind.allCases
    }

    let settings: Settings
    private var random: SplitMix64

    init(seed: UInt64, settings: Settings) {
        self.settings = settings
        self.random = SplitMix64(seed: seed)
    }

    /// The targets `kind` may strike while `active` faults are in effect.
    static func targets(of kind: FaultKind, active: [Fault], shape: ClusterShape) -> [Int] {
        guard !active.contains(where: { $0.kind.role == kind.role }) else { return [] }
        return Array(0..<shape.count(kind.role))
    }

    /// The next fault while `active` faults are in effect, or nil when the rules allow none.
    mutating func next(active: [Fault]) -> Fault? {
        let choices = self.settings.kinds.flatMap { kind in
            Self.targets(of: kind, active: active, shape: self.settings.shape).map { (kind, $0) }
        }
        guard !choices.isEmpty else { return nil }
        let (kind, target) = choices[Int(self.random.next(below: UInt64(choices.count)))]
        return Fault(kind: kind, target: target, duration: self.duration(of: kind))
    }

    /// The wait before the next injection.
    mutating func gap() -> Duration {
        self.uniform(self.settings.gap)
    }

    private mutating func duration(of kind: FaultKind) -> Duration {
        let ttl = self.settings.sessionTTL
        switch kind {
        case .killBroker, .killBookie, .killEtcd, .pauseEtcd: return self.uniform(.seconds(1)...(.seconds(3)))
        case .tearJournalTail, .flipJournalTail: return self.uniform(.milliseconds(500)...(.seconds(2)))
        case .pauseBroker, .pauseBookie, .isolateBroker: return self.uniform((ttl + .milliseconds(500))...(ttl + .seconds(2)))
        case .isolateEtcd: return self.uniform(.seconds(2)...(.seconds(4)))
        case .fillBookieDisk, .slowBookieSync: return self.uniform(.seconds(3)...(.seconds(6)))
        }
    }

    /// A duration in `range`, to the millisecond.
    private mutating func uniform(_ range: ClosedRange<Duration>) -> Duration {
        let low = Self.milliseconds(range.lowerBound)
        let high = Self.milliseconds(range.upperBound)
        return .milliseconds(low + Int64(self.random.next(below: UInt64(high - low + 1))))
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// The whole schedule of `count` faults for `seed`: each is decided from the faults
    /// still in effect at its time (those injected earlier and not yet healed). When the
    /// rules allow none, the next injection waits for the next heal.
    static func schedule(seed: UInt64, count: Int, settings: Settings) -> [ScheduledFault] {
        var nemesis = Nemesis(seed: seed, settings: settings)
        var schedule: [ScheduledFault] = []
        var now = Duration.zero
        while schedule.count < count {
            let active = schedule.filter { $0.at <= now && now < $0.healAt }
            guard let fault = nemesis.next(active: active.map(\.fault)) else {
                guard let heal = active.map(\.healAt).min() else { break }  // No kind allowed at all.
                now = heal
                continue
            }
            schedule.append(ScheduledFault(at: now, fault: fault))
            now += nemesis.gap()
        }
        return schedule
    }
}
