/// The entries one bookie holds of one segment of a ledger: what is lost with the bookie,
/// and what re-replication copies.
public struct LedgerFragment: Hashable, Sendable, CustomStringConvertible {
    /// Index of the segment in ``LedgerMetadata/ensembles``.
    public var segment: Int
    /// The bookie's index in the segment's ensemble.
    public var bookieIndex: Int
    public var bookie: String
    /// The entries of the segment the bookie stores (its index is in their write set), in
    /// order; empty when the segment holds no entry for it.
    public var entries: [Int64]

    public init(segment: Int, bookieIndex: Int, bookie: String, entries: [Int64]) {
        self.segment = segment
        self.bookieIndex = bookieIndex
        self.bookie = bookie
        self.entries = entries
    }

    public var description: String {
        let range = self.entries.first.map { "entries \($0)...\(self.entries[self.entries.count - 1]) (\(self.entries.count))" } ?? "no entries"
        return "segment \(self.segment) index \(self.bookieIndex) on \(self.bookie): \(range)"
    }
}

extension LedgerMetadata {
    /// Every bookie named by any segment.
    public var bookies: Set<String> { Set(self.ensembles.flatMap(\.bookies)) }

    /// The entry ids of segment `index` up to the last entry (`lastEntryID` for a closed
    /// ledger, `through` otherwise); nil when it holds none.
    public func entryRange(ofSegment index: Int, through last: Int64? = nil) -> ClosedRange<Int64>? {
        let first = self.ensembles[index].firstEntryID
        let end = index + 1 < self.ensembles.count ? self.ensembles[index + 1].firstEntryID - 1 : (last ?? self.lastEntryID)
        let upper = min(end, last ?? self.lastEntryID)
        return first <= upper ? first...upper : nil
    }

    /// The fragments stored on any of `bookies`: for each segment naming one, the entries
    /// of that segment in whose write set it is. Entries go up to ``lastEntryID``, so this
    /// is meant for closed ledgers.
    public func fragments(on bookies: Set<String>) -> [LedgerFragment] {
        var fragments: [LedgerFragment] = []
        for (segment, ensemble) in self.ensembles.enumerated() {
            for (index, bookie) in ensemble.bookies.enumerated() where bookies.contains(bookie) {
                var entries: [Int64] = []
                if let range = self.entryRange(ofSegment: segment) {
                    entries = range.filter {
                        Self.writeSetIndices($0, ensembleSize: self.ensembleSize, writeQuorum: self.writeQuorum).contains(index)
                    }
                }
                fragments.append(LedgerFragment(segment: segment, bookieIndex: index, bookie: bookie, entries: entries))
            }
        }
        return fragments
    }
}
