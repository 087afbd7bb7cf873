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

/// What the end-of-run check found.
struct WorkloadReport: Sendable, CustomStringConvertible {
    /// A receipted message that a subscription never received.
    struct Loss: Hashable, Sendable {
        var subscription: String
        var producer: String
        var sequence: Int
        var receiptPosition: Position
    }

    /// A message stored more than once (at these positions).
    struct Duplicate: Hashable, Sendable {
        var producer: String
        var sequence: Int
        var positions: [Position]
    }

    /// A message stored after a later one of its producer.
    struct Reorder: Hashable, Sendable {
        var producer: String
        var sequence: Int
        var after: Int
        var position: Position
    }

    var acknowledged = 0
    var delivered = 0
    var lost: [Loss] = []
    /// Duplicates of producers on topics with deduplication on: failures.
    var duplicatesWithDedup: [Duplicate] = []
    /// Duplicates elsewhere: reported, allowed (at-least-once).
    var duplicatesWithoutDedup: [Duplicate] = []
    var reordered: [Reorder] = []

    var passed: Bool { self.lost.isEmpty && self.duplicatesWithDedup.isEmpty && self.reordered.isEmpty }

    var description: String {
        var lines = [
            "messages acknowledged \(self.acknowledged), deliveries \(self.delivered), lost \(self.lost.count), "
                + "duplicates with dedup \(self.duplicatesWithDedup.count), without dedup \(self.duplicatesWithoutDedup.count), "
                + "reordered \(self.reordered.count)"
        ]
        for loss in self.lost.prefix(20) {
            lines.append("  LOST \(loss.producer) #\(loss.sequence) (receipted at \(loss.receiptPosition)) never reached \(loss.subscription)")
        }
        for duplicate in self.duplicatesWithDedup.prefix(20) {
            lines.append("  DUPLICATE (dedup on) \(duplicate.producer) #\(duplicate.sequence) stored at \(duplicate.positions)")
        }
        for reorder in self.reordered.prefix(20) {
            lines.append("  REORDERED \(reorder.producer) #\(reorder.sequence) at \(reorder.position), after #\(reorder.after)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The end-of-run check of the workload: a pure function of what the producers receipted
/// and what the subscriptions received.
///
/// - Lost: a receipted message some subscription never received.
/// - Duplicate: one message (producer, sequence) received at two or more positions, so
///   stored twice; a redelivery of the same position is not one.
/// - Reordered: in storage order (positions), a producer's message after a later one of the
///   same producer, counting each message at its first position.
enum WorkloadCheck {
    static func check(
        receipts: [Receipt],
        deliveries: [Delivery],
        subscriptions: [String],
        dedupProducers: Set<String>
    ) -> WorkloadReport {
        var report = WorkloadReport()
        let receipted = Dictionary(receipts.map { (Key($0.producer, $0.sequence), $0.position) }, uniquingKeysWith: { first, _ in first })
        report.acknowledged = receipted.count
        report.delivered = deliveries.count
        var received: [String: Set<Key>] = [:]
        var positions: [Key: Set<Position>] = [:]
        for delivery in deliveries {
            let key = Key(delivery.producer, delivery.sequence)
            received[delivery.subscription, default: []].insert(key)
            positions[key, default: []].insert(delivery.position)
        }
        for subscription in subscriptions {
            let got = received[subscription] ?? []
            for (key, position) in receipted where !got.contains(key) {
                report.lost.append(.init(subscription: subscription, producer: key.producer, sequence: key.sequence, receiptPosition: position))
            }
        }
        report.lost.sort { ($0.producer, $0.sequence, $0.subscription) < ($1.producer, $1.sequence, $1.subscription) }
        for (key, stored) in positions where stored.count > 1 {
            let duplicate = WorkloadReport.Duplicate(producer: key.producer, sequence: key.sequence, positions: stored.sorted())
            if dedupProducers.contains(key.producer) {
                report.duplicatesWithDedup.append(duplicate)
            } else {
                report.duplicatesWithoutDedup.append(duplicate)
            }
        }
        report.duplicatesWithDedup.sort { ($0.producer, $0.sequence) < ($1.producer, $1.sequence) }
        report.duplicatesWithoutDedup.sort { ($0.producer, $0.sequence) < ($1.producer, $1.sequence) }
        let byProducer = Dictionary(grouping: positions.map { ($0.key, $0.value.min()!) }, by: { $0.0.producer })
        for producer in byProducer.keys.sorted() {
            var highest: Int?
            for (key, position) in byProducer[producer]!.sorted(by: { $0.1 < $1.1 }) {
                if let highest, key.sequence < highest {
                    report.reordered.append(.init(producer: producer, sequence: key.sequence, after: highest, position: position))
                }
                highest = max(highest ?? key.sequence, key.sequence)
            }
        }
        return report
    }

    private struct Key: Hashable {
        var producer: String
        var sequence: Int
        init(_ producer: String, _ sequence: Int) {
            self.producer = producer
            self.sequence = sequence
        }
    }
}
