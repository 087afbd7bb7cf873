/// A position in a topic's log: exactly a Pulsar MessageId's (ledgerId, entryId).
///
/// Positions order by ledger, then entry. `(L, -1)` is the position before the first
/// entry of ledger `L`; a cursor whose mark-delete position is `(L, -1)` has consumed
/// nothing of `L`. Encoded as JSON `{"ledgerID": L, "entryID": E}`.
public struct Position: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var ledgerID: Int64
    public var entryID: Int64

    public init(ledgerID: Int64, entryID: Int64) {
        self.ledgerID = ledgerID
        self.entryID = entryID
    }

    public static func < (lhs: Position, rhs: Position) -> Bool {
        (lhs.ledgerID, lhs.entryID) < (rhs.ledgerID, rhs.entryID)
    }

    /// The position just before this one in the same ledger: `(L, E-1)`, so the position
    /// before a ledger's first entry is `(L, -1)`. It never goes below `(L, -1)`: entry
    /// ids come from clients and stored metadata, and no arithmetic on them may trap.
    public var previousInLedger: Position {
        Position(ledgerID: self.ledgerID, entryID: self.entryID > 0 ? self.entryID - 1 : -1)
    }

    /// The position just after this one in the same ledger: `(L, E+1)`, or itself at the
    /// largest entry id.
    public var nextInLedger: Position {
        Position(ledgerID: self.ledgerID, entryID: self.entryID < .max ? self.entryID + 1 : .max)
    }

    public var description: String { "\(self.ledgerID):\(self.entryID)" }
}

/// Where a new cursor starts.
public enum InitialPosition: Sendable {
    /// After the last confirmed entry: only entries appended from now on are delivered.
    case latest
    /// Before the first entry that still exists.
    case earliest
}
