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
