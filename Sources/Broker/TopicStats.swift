import Foundation

/// A topic's stats under Pulsar's TopicStats JSON names, so that tools written for
/// Pulsar parse them: rates per second over the last window, counters since the topic
/// was loaded here, storage from its ledger list, and each publisher and subscription.
struct TopicStats: Codable, Equatable, Sendable {
    var msgRateIn = 0.0
    var msgThroughputIn = 0.0
    var msgRateOut = 0.0
    var msgThroughputOut = 0.0
    var msgInCounter = 0
    var bytesInCounter = 0
    var msgOutCounter = 0
    var bytesOutCounter = 0
    var averageMsgSize = 0.0
    /// Bytes in the topic's ledgers.
    var storageSize: Int64 = 0
    /// Bytes not yet acknowledged by the slowest subscription (estimated per ledger).
    var backlogSize: Int64 = 0
    var publishers: [PublisherStats] = []
    var waitingPublishers = 0
    var subscriptions: [String: SubscriptionStats] = [:]
    /// `Enabled` or `Disabled`.
    var deduplicationStatus = "Disabled"
    /// The backlog quotas in force: bytes and seconds (-1: none).
    var backlogQuotaLimitSize: Int64 = -1
    var backlogQuotaLimitTime: Int64 = -1
    /// Bytes of consumed ledgers kept by retention.
    var retainedSize: Int64 = 0
    /// Non-persistent topics: messages a subscription missed (no consumer had a permit).
    var msgDropped: Int?

    struct PublisherStats: Codable, Equatable, Sendable {
        var producerId: UInt64
        var producerName: String
        var accessMode: String
        var msgRateIn: Double
        var msgThroughputIn: Double
        var averageMsgSize: Double
        var connectedSince: String
    }

    struct SubscriptionStats: Codable, Equatable, Sendable {
        var msgRateOut = 0.0
        var msgThroughputOut = 0.0
        var msgOutCounter = 0
        var bytesOutCounter = 0
        var msgRateRedeliver = 0.0
        /// Entries after the mark-delete position not acknowledged.
        var msgBacklog: Int64 = 0
        var backlogSize: Int64 = 0
        var unackedMessages = 0
        var msgRateExpired = 0.0
        var totalMsgExpired = 0
        /// Messages held back for their delivery time.
        var msgDelayed = 0
        /// `Exclusive`, `Shared`, `Failover` or `Key_Shared`.
        var type: String
        var isDurable: Bool
        var consumers: [ConsumerStats] = []

        struct ConsumerStats: Codable, Equatable, Sendable {
            var consumerName: String
            var msgRateOut: Double
            var msgThroughputOut: Double
            var msgOutCounter: Int
            var bytesOutCounter: Int
            var availablePermits: Int
            var unackedMessages: Int
            var connectedSince: String
        }
    }

    /// The sum of partitions' stats, as Pulsar's partitioned-stats adds them up.
    mutating func add(_ other: TopicStats) {
        self.msgRateIn += other.msgRateIn
        self.msgThroughputIn += other.msgThroughputIn
        self.msgRateOut += other.msgRateOut
        self.msgThroughputOut += other.msgThroughputOut
        self.msgInCounter += other.msgInCounter
        self.bytesInCounter += other.bytesInCounter
        self.msgOutCounter += other.msgOutCounter
        self.bytesOutCounter += other.bytesOutCounter
        self.storageSize += other.storageSize
        self.backlogSize += other.backlogSize
        self.publishers += other.publishers
        self.waitingPublishers += other.waitingPublishers
        for (name, subscription) in other.subscriptions {
            guard var total = self.subscriptions[name] else {
                self.subscriptions[name] = subscription
                continue
            }
            total.msgRateOut += subscription.msgRateOut
            total.msgThroughputOut += subscription.msgThroughputOut
            total.msgOutCounter += subscription.msgOutCounter
            total.bytesOutCounter += subscription.bytesOutCounter
            total.msgBacklog += subscription.msgBacklog
            total.backlogSize += subscription.backlogSize
            total.unackedMessages += subscription.unackedMessages
            total.totalMsgExpired += subscription.totalMsgExpired
            total.consumers += subscription.consumers
            self.subscriptions[name] = total
        }
        self.averageMsgSize = self.msgInCounter > 0 ? Double(self.bytesInCounter) / Double(self.msgInCounter) : 0
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
