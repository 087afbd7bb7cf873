import Metadata
import PulsarWire
import Synchronization

/// Where a broker serves: its id and its two URLs.
struct BrokerAddress: Hashable, Sendable {
    /// `host:http-port`.
    var brokerId: String
    /// `pulsar://host:port`.
    var pulsarURL: String
    /// `http://host:port`.
    var httpURL: String
}

/// A broker's place in its cluster: its metadata session and lease, the bundles it owns,
/// its registered address, and who leads.
///
/// The ``MembershipService`` keeps it current; lookups, topic loads and the REST API read
/// it. Lock order: each lock here is taken alone (no method holds two).
final class BrokerMembership: Sendable {
    let session: BrokerSession
    let ownership = BundleOwnership()
    /// Bundle count of namespaces whose policies name none.
    let defaultBundles: Int
    private let address = Mutex<BrokerAddress?>(nil)
    private let leaderState = Mutex<LeaderValue?>(nil)
    /// Leader only: brokers chosen for bundles not yet reported in their loads, with when.
    private let assignments = Mutex<[String: (broker: String, at: ContinuousClock.Instant)]>([:])
    /// Claims of bundles under way here: a lookup or load that finds one waits for it
    /// instead of reading the key half-way.
    private let claims = Mutex<[Bundle: Task<Bool, any Error>]>([:])
    /// Leader only: where a bundle being moved should go next.
    private let destinations = Mutex<[String: (broker: String, until: ContinuousClock.Instant)]>([:])

    init(session: BrokerSession, defaultBundles: Int) {
        self.session = session
        self.defaultBundles = defaultBundles
    }

    /// The broker's address once it is registered (nil while it starts).
    var identity: BrokerAddress? {
        get { self.address.withLock { $0 } }
        set { self.address.withLock { $0 = newValue } }
    }

    /// The leader as last seen.
    var leader: LeaderValue? {
        get { self.leaderState.withLock { $0 } }
        set { self.leaderState.withLock { $0 = newValue } }
    }

    /// Whether this broker leads (in a session whose lease runs).
    var isLeader: Bool {
        guard let identity = self.identity, self.session.isValid() else { return false }
        return self.leader?.brokerId == identity.brokerId
    }

    /// Whether the broker may serve `bundle` now: it owns it and its lease runs.
    func serves(_ bundle: Bundle) -> Bool {
        self.session.isValid() && self.ownership.holds(bundle)
    }

    /// Whether the broker may serve the topic `name`, whose name hashes to `hash`, now: it
    /// owns a bundle holding it and its lease runs. Asked before every receipt and
    /// dispatch; no hashing, one lock.
    func serves(_ name: TopicName, hash: UInt32) -> Bool {
        self.session.isValid() && self.ownership.holds(tenant: name.tenant, namespace: name.namespace, hash: hash)
    }

    /// Runs `claim` for `bundle`, unless a claim of it is under way here already: then
    /// waits for that one. True when the bundle is this broker's.
    func claiming(_ bundle: Bundle, _ claim: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
        let task = self.claims.withLock { claims in
            if let running = claims[bundle] { return running }
            let task = Task { try await claim() }
            claims[bundle] = task
            return task
        }
        defer { self.claims.withLock { claims in if claims[bundle] == task { claims[bundle] = nil } } }
        return try await task.value
    }

    /// Waits for a claim of `bundle` under way here, if any.
    func claimUnderWay(_ bundle: Bundle) async {
        guard let task = self.claims.withLock({ $0[bundle] }) else { return }
        _ = try? await task.value
    }

    // MARK: Leader's bookkeeping

    /// Notes that `broker` was chosen for `bundle` (it counts in the broker's load until
    /// its report lists the bundle, or for a minute).
    func noteAssignment(_ bundle: String, to broker: String, now: ContinuousClock.Instant = .now) {
        self.assignments.withLock { $0[bundle] = (broker, now) }
    }

    /// The broker `bundle` was given to in the last few seconds, if any: lookups of a
    /// bundle racing its placement are all sent to the same broker.
    func recentAssignment(of bundle: String, now: ContinuousClock.Instant = .now) -> String? {
        self.assignments.withLock { assignments in
            guard let assignment = assignments[bundle], now - assignment.at < .seconds(10) else { return nil }
            return assignment.broker
        }
    }

    /// Bundles assigned per broker and not yet in its report, given the reported bundles.
    func pendingAssignments(reported: Set<String>, now: ContinuousClock.Instant = .now) -> [String: Int] {
        self.assignments.withLock { assignments in
            assignments = assignments.filter { bundle, assignment in !reported.contains(bundle) && now - assignment.at < .seconds(60) }
            return assignments.values.reduce(into: [:]) { $0[$1.broker, default: 0] += 1 }
        }
    }

    /// Asks that `bundle`, being unloaded, go to `broker` next (for the next two minutes).
    func setDestination(_ bundle: String, _ broker: String, now: ContinuousClock.Instant = .now) {
        self.destinations.withLock { $0[bundle] = (broker, now + .seconds(120)) }
    }

    /// The broker asked for `bundle`, once (the request is consumed).
    func takeDestination(_ bundle: String, now: ContinuousClock.Instant = .now) -> String? {
        self.destinations.withLock { destinations in
            guard let destination = destinations.removeValue(forKey: bundle), destination.until > now else { return nil }
            return destination.broker
        }
    }
}
