/// A message's place in its topic: ledger and entry.
struct Position: Hashable, Comparable, Sendable, CustomStringConvertible {
    var ledger: Int64
    var entry: Int64
    static func < (a: Position, b: Position) -> Bool { (a.ledger, a.entry) < (b.ledger, b.entry) }
    var description: String { "\(self.ledger):\(self.entry)" }
}

/// A message a producer had receipted: its producer, sequence number, and the position the
/// receipt named (-1:-1 for a resend that deduplication recognised).
struct Receipt: Hashable, Sendable {
    var producer: String
    var sequence: Int
    var position: Position
}

/// A message a subscription received.
struct Delivery: Hashable, Sendable {
    var subscription: String
    var producer: String
    var sequence: Int
    var position: Position
}
