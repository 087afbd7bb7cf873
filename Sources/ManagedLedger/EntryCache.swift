import NIOCore

/// Recently appended entries, for tailing reads: bounded by payload bytes, the oldest
/// evicted first. Not synchronized: it lives inside the managed ledger's state.
struct EntryCache {
    let capacity: Int
    private var entries: [Position: ByteBuffer] = [:]
    /// Insertion order; positions before `head` are gone.
    private var order: [Position] = []
    private var head = 0
    private(set) var bytes = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    subscript(position: Position) -> ByteBuffer? { self.entries[position] }

    mutating func insert(_ entry: ByteBuffer, at position: Position) {
        guard entry.readableBytes <= self.capacity, self.entries[position] == nil else { return }
        self.entries[position] = entry
        self.order.append(position)
        self.bytes += entry.readableBytes
        while self.bytes > self.capacity, self.head < self.order.count {
            self.evictOldest()
        }
        if self.head > 1024, self.head * 2 > self.order.count {
            self.order.removeFirst(self.head)
            self.head = 0
        }
    }

    /// Drops every entry of `ledgerID` (its ledger was deleted).
    mutating func removeLedger(_ ledgerID: Int64) {
        for (position, entry) in self.entries where position.ledgerID == ledgerID {
            self.bytes -= entry.readableBytes
            self.entries[position] = nil
        }
    }

    private mutating func evictOldest() {
        let position = self.order[self.head]
        self.head += 1
        if let entry = self.entries.removeValue(forKey: position) { self.bytes -= entry.readableBytes }
    }
}
