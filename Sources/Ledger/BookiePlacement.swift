/// The placement rules for new ensembles, ensemble changes and re-replication, as a pure
/// decision: given the candidate bookies, which to pick.
public enum BookiePlacement {
    /// A bookie that could take a copy.
    public struct Candidate: Hashable, Sendable {
        public var id: String
        public var rack: String?
        /// Failed or slow recently: chosen only when there are not enough others.
        public var quarantined: Bool
        /// Ensembles (or fragments) already placed on it by the chooser: least loaded first.
        public var load: Int

        public init(id: String, rack: String? = nil, quarantined: Bool = false, load: Int = 0) {
            self.id = id
            self.rack = rack
            self.quarantined = quarantined
            self.load = load
        }
    }

    /// Picks `count` distinct bookies of `candidates` (all writable) outside `excluded`:
    /// not quarantined first, then least loaded, then by id; on racks not yet used (neither
    /// in `racksInUse` nor by an earlier pick) when racks are set, then any; quarantined
    /// ones only when there are not enough others and `allowQuarantined`. `registered`
    /// counts every registered bookie, for the error. Throws `notEnoughBookies`.
    public static func choose(
        _ count: Int,
        from candidates: [Candidate],
        excluding excluded: Set<String>,
        racksInUse: Set<String> = [],
        allowQuarantined: Bool = true,
        registered: Int? = nil
    ) throws(LedgerError) -> [String] {
        let usable = candidates.filter { !excluded.contains($0.id) && (allowQuarantined || !$0.quarantined) }
        guard usable.count >= count else {
            throw LedgerError(
                .notEnoughBookies,
                "only \(usable.count) writable bookies available (\(registered ?? candidates.count) registered, \(excluded.count) excluded), need \(count)"
            )
        }
        let ordered = usable.sorted { ($0.quarantined ? 1 : 0, $0.load, $0.id) < ($1.quarantined ? 1 : 0, $1.load, $1.id) }
        var chosen: [Candidate] = []
        var racks = racksInUse
        // First pass: a new rack each time; second: whatever is left, in the same order.
        for candidate in ordered where chosen.count < count && !candidate.quarantined {
            if let rack = candidate.rack, racks.contains(rack) { continue }
            chosen.append(candidate)
            if let rack = candidate.rack { racks.insert(rack) }
        }
        for candidate in ordered where chosen.count < count && !chosen.contains(candidate) {
            chosen.append(candidate)
        }
        return chosen.map(\.id)
    }
}
