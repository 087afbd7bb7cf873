import NIOCore

/// Acknowledged entries not yet in an entry log, by ledger, each ledger's in entry order.
///
/// A ledger's writer sends its entries in order, so an entry nearly always lands after the
/// last one cached for its ledger: it is appended, and a flush writes each ledger's
/// entries out as they stand, without sorting. An entry out of order (a retried or a
/// recovery add) is placed by binary search, as lookups are.
struct WriteCache {
    private(set) var ledgers: [UInt64: LedgerEntries] = [:]
    /// The bytes of every cached entry.
    private(set) var bytes = 0

    var isEmpty: Bool { self.ledgers.isEmpty }

    func entry(ledgerID: UInt64, entryID: UInt64) -> ByteBuffer? {
        self.ledgers[ledgerID]?.entry(entryID)
    }

    /// Caches `entry`, replacing one cached under the same ids.
    mutating func set(_ entry: ByteBuffer, ledgerID: UInt64, entryID: UInt64) {
        self.bytes += self.ledgers[ledgerID, default: LedgerEntries()].set(entry, entryID: entryID)
    }

    /// Drops a ledger's entries.
    mutating func removeLedger(_ ledgerID: UInt64) {
        if let removed = self.ledgers.removeValue(forKey: ledgerID) { self.bytes -= removed.bytes }
    }

    /// Adds `newer`'s entries, which replace any cached under the same ids.
    mutating func merge(_ newer: WriteCache) {
        for (ledgerID, entries) in newer.ledgers {
            for (entryID, entry) in entries { self.set(entry, ledgerID: ledgerID, entryID: entryID) }
        }
    }
}

/// One ledger's cached entries, in entry order.
struct LedgerEntries: Sequence {
    private var ids: [UInt64] = []
    private var entries: [ByteBuffer] = []
    private(set) var bytes = 0

    func entry(_ entryID: UInt64) -> ByteBuffer? {
        let index = self.position(of: entryID)
        return index < self.ids.count && self.ids[index] == entryID ? self.entries[index] : nil
    }

    /// Stores `entry`; returns by how much the bytes cached grew.
    mutating func set(_ entry: ByteBuffer, entryID: UInt64) -> Int {
        let added: Int
        if let last = self.ids.last, entryID <= last {
            let index = self.position(of: entryID)
            if self.ids[index] == entryID {
                added = entry.readableBytes - self.entries[index].readableBytes
                self.entries[index] = entry
            } else {
                added = entry.readableBytes
                self.ids.insert(entryID, at: index)
                self.entries.insert(entry, at: index)
            }
        } else {
            added = entry.readableBytes
            self.ids.append(entryID)
            self.entries.append(entry)
        }
        self.bytes += added
        return added
    }

    /// The index of the first id at or above `entryID`.
    private func position(of entryID: UInt64) -> Int {
        var low = 0
        var high = self.ids.count
        while low < high {
            let middle = (low + high) / 2
            if self.ids[middle] < entryID { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func makeIterator() -> Zip2Sequence<[UInt64], [ByteBuffer]>.Iterator {
        zip(self.ids, self.entries).makeIterator()
    }
}
