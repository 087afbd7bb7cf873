/// What a broker does with a lookup of a topic, decided from what it knows: a pure value,
/// so that every case is tested without a cluster.
///
/// Pulsar's rules: the owner of the topic's bundle is answered with Connect; an unowned
/// bundle is placed by the leader, so a lookup reaching another broker is redirected to
/// the leader, which either takes the bundle itself or redirects the client to the broker
/// it chose with `authoritative` set; a broker asked authoritatively takes the bundle.
enum LookupDecision: Hashable, Sendable {
    /// Answer Connect with this broker.
    case connectHere
    /// Answer Connect with the bundle's owner.
    case connect(BrokerAddress)
    /// Take the bundle (compare-and-set of its key), then answer Connect with this broker.
    case acquire
    /// Answer Redirect: the client asks `to` again, with `authoritative`.
    case redirect(to: BrokerAddress, authoritative: Bool)
    /// Answer ServiceNotReady: the client retries after a pause.
    case retry(reason: String)

    /// The decision.
    /// - Parameters:
    ///   - owner: the bundle's ownership key, when it exists.
    ///   - servedHere: whether this broker owns the bundle and its lease runs.
    ///   - me: this broker's id.
    ///   - authoritative: the lookup's flag (set by a leader's redirect).
    ///   - leader: the leader as last seen.
    ///   - candidate: the broker the leader's placement picks (needed only when this broker
    ///     leads and the bundle has no owner: see ``needsCandidate(owner:servedHere:authoritative:isLeader:)``).
    static func decide(
        owner: BundleOwnerValue?, servedHere: Bool, me: String, authoritative: Bool, leader: BrokerAddress?, candidate: BrokerAddress?
    ) -> LookupDecision {
        if servedHere { return .connectHere }
        if let owner {
            if owner.disabled { return .retry(reason: "the bundle is being unloaded") }
            // A key of this broker that it does not hold: the lookup deletes it first (see
            // ``BrokerContext/dropStaleKey(of:as:)``); should one be met here, look again.
            if owner.brokerId == me { return .retry(reason: "the bundle's key names this broker, which does not hold it") }
            return .connect(owner.address)
        }
        if authoritative { return .acquire }
        guard let leader else { return .retry(reason: "no leader broker is elected yet") }
        guard leader.brokerId == me else { return .redirect(to: leader, authoritative: false) }
        guard let chosen = candidate else { return .retry(reason: "no broker is available") }
        return chosen.brokerId == me ? .acquire : .redirect(to: chosen, authoritative: true)
    }

    /// Whether ``decide(owner:servedHere:me:authoritative:leader:candidate:)`` needs a
    /// placement choice.
    static func needsCandidate(owner: BundleOwnerValue?, servedHere: Bool, authoritative: Bool, isLeader: Bool) -> Bool {
        !servedHere && owner == nil && !authoritative && isLeader
    }
}
