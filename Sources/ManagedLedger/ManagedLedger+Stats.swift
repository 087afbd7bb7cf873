import Foundation

/// A managed ledger's inside, under the JSON names of Pulsar's internal-stats: its
/// ledgers, its cursors and where each stands.
public struct ManagedLedgerInternalStats: Codable, Equatable, Sendable {
    public var numberOfEntries: Int64 = 0
    public var totalSize: Int64 = 0
    public var currentLedgerEntries: Int64 = 0
    public var currentLedgerSize: Int64 = 0
    /// `ledger:entry`.
    public var lastConfirmedEntry = ""
    /// `LedgerOpened`, `ClosingLedger`, `Closed` or `Fenced`.
    public var state = ""
    public var pendingAddEntriesCount = 0
    /// Bytes of closed ledgers every cursor has passed, kept by retention.
    public var retainedSize: Int64 = 0
    public var ledgers: [LedgerStats] = []
    public var cursors: [String: CursorStats] = [:]

    public struct LedgerStats: Codable, Equatable, Sendable {
        public var ledgerId: Int64
        public var entries: Int64
        public var size: Int64
        /// When the ledger was closed (milliseconds since 1970; absent while it is open).
        public var timestamp: Int64?
        public var offloaded = false
    }

    public struct CursorStats: Codable, Equatable, Sendable {
        public var markDeletePosition: String
        public var readPosition: String
        /// Acknowledged ranges beyond the mark-delete position, as Pulsar writes them:
        /// `[(5:3..5:7],(5:9..5:12]]`, each open below and closed above.
        public var individuallyDeletedMessages: String
        public var totalNonContiguousDeletedMessagesRange: Int
        public var numberOfEntriesSinceFirstNotAckedMessage: Int64
        public var messagesConsumedCounter: Int64
        public var cursorLedger: Int64 = -1
        public var state = "Open"
    }
}

extension ManagedLedger {
    /// Bytes in the log's ledgers (the current one's as confirmed so far).
    public var totalSize: Int64 { self.state.ledgers.reduce(0) { $0 + $1.size } }

    /// Entries in the log.
    public var numberOfEntries: Int64 { self.state.ledgers.reduce(0) { $0 + $1.entries } }

    /// Bytes after `position`, estimated from each ledger's average entry size.
    public func estimatedSize(after position: Position) -> Int64 {
        var total: Int64 = 0
        for info in self.state.ledgers where info.id >= position.ledgerID && info.entries > 0 {
            let after = info.id == position.ledgerID ? max(0, info.entries - 1 - position.entryID) : info.entries
            total += after * info.size / info.entries
        }
        return total
    }

    /// Bytes of closed ledgers that every cursor has passed (all closed ledgers with no
    /// cursor): what only retention keeps.
    public var retainedSize: Int64 {
        let slowest = self.state.cursors.values.map { cursor in cursor.assumeIsolated { $0.markDeletePosition } }.min()
        let count = RetentionRule(time: nil, size: 0).deletable(self.state.ledgers, slowest: slowest, now: 0)
        return self.state.ledgers[..<count].reduce(Int64(0)) { $0 + $1.size }
    }

    /// The internal stats, read now.
    public func internalStats() async -> ManagedLedgerInternalStats {
        var stats = ManagedLedgerInternalStats()
        stats.numberOfEntries = self.numberOfEntries
        stats.totalSize = self.totalSize
        let current = self.state.ledgers[self.state.ledgers.count - 1]
        stats.currentLedgerEntries = current.entries
        stats.currentLedgerSize = current.size
        stats.lastConfirmedEntry = self.lastConfirmed.description
        switch self.state.phase {
        case .ready: stats.state = "LedgerOpened"
        case .rolling: stats.state = "ClosingLedger"
        case .closed: stats.state = "Closed"
        case .fenced: stats.state = "Fenced"
        }
        stats.pendingAddEntriesCount = self.state.queue.count
        stats.ledgers = self.state.ledgers.map {
            ManagedLedgerInternalStats.LedgerStats(ledgerId: $0.id, entries: $0.entries, size: $0.size, timestamp: $0.timestamp)
        }
        stats.retainedSize = self.retainedSize
        for cursor in self.state.cursors.values {
            stats.cursors[cursor.name] = await cursor.internalStats()
        }
        return stats
    }
}

extension ManagedCursor {
    func internalStats() -> ManagedLedgerInternalStats.CursorStats {
        let ranges = self.state.acked.map { "(\($0.lowerBound.previousInLedger)..\($0.upperBound)]" }
        let (markDelete, last) = (self.state.markDelete, self.ledger.assumeIsolated { $0.lastConfirmed })
        let sinceFirstUnacked = self.ledger.assumeIsolated { $0.numberOfEntries(after: markDelete, through: last) }
        let consumed = self.ledger.assumeIsolated { ledger in
            ledger.numberOfEntries(after: ledger.firstPosition.previousInLedger, through: markDelete)
        }
        return ManagedLedgerInternalStats.CursorStats(
            markDeletePosition: markDelete.description, readPosition: self.state.readPosition.description,
            individuallyDeletedMessages: "[" + ranges.joined(separator: ",") + "]", totalNonContiguousDeletedMessagesRange: ranges.count,
            numberOfEntriesSinceFirstNotAckedMessage: sinceFirstUnacked, messagesConsumedCounter: consumed
        )
    }
}
