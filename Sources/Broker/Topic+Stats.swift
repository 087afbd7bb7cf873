import Foundation
import ManagedLedger

extension Topic {
    /// The topic's stats now (see ``TopicStats``).
    func stats() -> TopicStats {
        let now = ContinuousClock.now
        let reading = self.counters.reading
        let rates = self.counters.rates(at: now)
        var stats = TopicStats(
            msgRateIn: rates.messagesIn, msgThroughputIn: rates.bytesIn, msgRateOut: rates.messagesOut, msgThroughputOut: rates.bytesOut,
            msgInCounter: reading.messagesIn, bytesInCounter: reading.bytesIn, msgOutCounter: reading.messagesOut, bytesOutCounter: reading.bytesOut
        )
        stats.averageMsgSize = reading.messagesIn > 0 ? Double(reading.bytesIn) / Double(reading.messagesIn) : 0
        stats.deduplicationStatus = self.deduplication != nil ? "Enabled" : "Disabled"
        let ledger = self.ledger
        stats.storageSize = ledger.assumeIsolated { $0.totalSize }
        stats.retainedSize = ledger.assumeIsolated { $0.retainedSize }
        stats.backlogQuotaLimitSize = self.policies.sizeQuota?.limit ?? -1
        stats.backlogQuotaLimitTime = self.policies.ageQuota?.limit ?? -1
        stats.publishers = self.producers.values.sorted { $0.producerID < $1.producerID }.map { producer in
            let rates = producer.counters.rates(at: now)
            let total = producer.counters.reading
            return TopicStats.PublisherStats(
                producerId: producer.producerID, producerName: producer.name, accessMode: producer.exclusive ? "Exclusive" : "Shared",
                msgRateIn: rates.messagesIn, msgThroughputIn: rates.bytesIn,
                averageMsgSize: total.messagesIn > 0 ? Double(total.bytesIn) / Double(total.messagesIn) : 0,
                connectedSince: TopicStats.timestamp(producer.connectedSince)
            )
        }
        stats.waitingPublishers = self.waiting.count
        for (name, subscription) in self.subscriptions {
            stats.subscriptions[name] = subscription.stats(at: now)
        }
        // Durable subscriptions with no consumer since the topic was loaded: their cursors.
        for cursor in ledger.assumeIsolated({ $0.cursors }) where stats.subscriptions[cursor.name] == nil && cursor.name != Deduplication.cursorName {
            let (backlog, markDelete) = cursor.assumeIsolated { ($0.backlog, $0.markDeletePosition) }
            stats.subscriptions[cursor.name] = TopicStats.SubscriptionStats(
                msgBacklog: backlog, backlogSize: ledger.assumeIsolated { $0.estimatedSize(after: markDelete) }, type: "Exclusive", isDurable: true
            )
        }
        stats.backlogSize = stats.subscriptions.values.map(\.backlogSize).max() ?? 0
        return stats
    }
}

extension Subscription {
    /// The subscription's stats at `now`.
    func stats(at now: ContinuousClock.Instant) -> TopicStats.SubscriptionStats {
        let rates = self.counters.rates(at: now)
        let total = self.counters.reading
        let (backlog, markDelete) = self.cursor.assumeIsolated { ($0.backlog, $0.markDeletePosition) }
        var stats = TopicStats.SubscriptionStats(
            msgRateOut: rates.messagesOut, msgThroughputOut: rates.bytesOut, msgOutCounter: total.messagesOut, bytesOutCounter: total.bytesOut,
            msgBacklog: backlog, backlogSize: self.ledger.assumeIsolated { $0.estimatedSize(after: markDelete) },
            totalMsgExpired: self.expiredMessages, msgDelayed: self.delayed.count, type: ConsumerSet<Consumer>.describe(self.type), isDurable: self.durable
        )
        for consumer in self.attached {
            let rates = consumer.counters.rates(at: now)
            let total = consumer.counters.reading
            stats.unackedMessages += consumer.unackedCount
            stats.consumers.append(
                TopicStats.SubscriptionStats.ConsumerStats(
                    consumerName: consumer.name, msgRateOut: rates.messagesOut, msgThroughputOut: rates.bytesOut, msgOutCounter: total.messagesOut,
                    bytesOutCounter: total.bytesOut, availablePermits: max(0, consumer.availablePermits), unackedMessages: consumer.unackedCount,
                    connectedSince: TopicStats.timestamp(consumer.connectedSince)
                )
            )
        }
        return stats
    }
}
