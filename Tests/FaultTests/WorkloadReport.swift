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
