/// What re-replicating a closed ledger does, decided without I/O: which fragments to copy,
/// to which bookie, and the ledger's ensembles once they are copied.
///
/// A bookie to replace that is still live and not decommissioned keeps its place: its
/// fragments are topped up in place (only entries it lacks are written). Any other gets,
/// per segment, a replacement chosen by the placement rules of new ledgers
/// (``BookiePlacement``): writable, not in the segment's ensemble, on a rack the rest of
/// the ensemble does not use where racks are set, least loaded first.
public struct ReplicationPlan: Hashable, Sendable {
    public struct Copy: Hashable, Sendable {
        public var fragment: LedgerFragment
        /// Where the entries go; the fragment's own bookie for an in-place top-up.
        public var target: String
        public var inPlace: Bool { self.target == self.fragment.bookie }
    }

    public var copies: [Copy]
    /// The ledger's metadata with every replacement made (equal to the input when all
    /// copies are in place).
    public var updated: LedgerMetadata

    /// Whether the stored ensembles change.
    public var changesEnsembles: Bool { self.copies.contains { !$0.inPlace } }

    /// The plan for replacing `replacing`'s copies in `metadata`. `live` are the registered
    /// bookies (read-only ones included); `candidates` the bookies that may take copies
    /// (writable, not decommissioned); `load` how many fragments each got already from
    /// this chooser, updated with the picks. Throws `notEnoughBookies` when a segment has
    /// no bookie left to take a copy.
    public static func make(
        for metadata: LedgerMetadata,
        replacing: Set<String>,
        live: Set<String>,
        decommissioned: Set<String>,
        candidates: [BookiePlacement.Candidate],
        load: inout [String: Int]
    ) throws(LedgerError) -> ReplicationPlan {
        var updated = metadata
        var copies: [Copy] = []
        let racks = Dictionary(candidates.map { ($0.id, $0.rack) }, uniquingKeysWith: { first, _ in first })
        for fragment in metadata.fragments(on: replacing) {
            if live.contains(fragment.bookie), !decommissioned.contains(fragment.bookie) {
                copies.append(Copy(fragment: fragment, target: fragment.bookie))
                continue
            }
            let ensemble = updated.ensembles[fragment.segment].bookies
            let rest = ensemble.enumerated().filter { $0.offset != fragment.bookieIndex }.map(\.element)
            let racksInUse = Set(rest.compactMap { racks[$0] ?? nil })
            let weighted = candidates.map { candidate in
                var candidate = candidate
                candidate.load += load[candidate.id, default: 0]
                return candidate
            }
            let chosen = try BookiePlacement.choose(
                1, from: weighted, excluding: Set(ensemble).union(replacing).union(decommissioned), racksInUse: racksInUse
            )[0]
            load[chosen, default: 0] += 1
            updated.ensembles[fragment.segment].bookies[fragment.bookieIndex] = chosen
            copies.append(Copy(fragment: fragment, target: chosen))
        }
        return ReplicationPlan(copies: copies, updated: updated)
    }
}
