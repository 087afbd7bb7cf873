import PulsarProto

/// How several consumers of one subscription share its messages.
public enum SubscriptionType: String, Sendable, Hashable, CaseIterable {
    /// One consumer at a time; others are refused.
    case exclusive
    /// Messages spread over all consumers; acks are individual.
    case shared
    /// One active consumer; the others take over in order when it goes.
    case failover
    /// Messages spread by key: all messages of a key go to the same consumer.
    case keyShared

    var wire: Pulsar_Proto_CommandSubscribe.SubType {
        switch self {
        case .exclusive: .exclusive
        case .shared: .shared
        case .failover: .failover
        case .keyShared: .keyShared
        }
    }
}

/// Where a new subscription starts.
public enum InitialPosition: String, Sendable, Hashable {
    /// With the next message published.
    case latest
    /// With the oldest message kept.
    case earliest
}

/// Where messages that keep failing go: after ``maxRedeliverCount`` redeliveries a
/// message is published to ``deadLetterTopic`` and acknowledged on its subscription.
public struct DeadLetterPolicy: Sendable, Hashable {
    public var maxRedeliverCount: Int
    /// Default `<topic>-<subscription>-DLQ`.
    public var deadLetterTopic: String?

    public init(maxRedeliverCount: Int, deadLetterTopic: String? = nil) {
        self.maxRedeliverCount = max(0, maxRedeliverCount)
        self.deadLetterTopic = deadLetterTopic
    }
}

/// How a consumer subscribes and when it asks for messages again.
public struct ConsumerConfiguration: Sendable {
    public var subscriptionType: SubscriptionType
    public var initialPosition: InitialPosition
    /// Messages each topic (partition) may have buffered in the client. Default 1000.
    public var receiverQueueSize: Int
    public var consumerName: String?
    /// How long a negatively acknowledged message waits before it is redelivered. Default 1 s.
    public var negativeAckRedeliveryDelay: Duration
    /// A message received but not acknowledged this long is redelivered; nil (the
    /// default) never.
    public var ackTimeout: Duration?
    public var deadLetterPolicy: DeadLetterPolicy?
    /// Failover: a lower level is preferred as the active consumer.
    public var priorityLevel: Int32
    /// How long individual acks wait to be sent together in one ACK. Default 10 ms;
    /// zero sends each at once.
    public var ackGroupingTime: Duration
    /// How often a pattern consumer lists its namespace's topics again. Default 60 s.
    public var patternAutoDiscoveryPeriod: Duration

    public init(
        subscriptionType: SubscriptionType = .exclusive,
        initialPosition: InitialPosition = .latest,
        receiverQueueSize: Int = 1000,
        consumerName: String? = nil,
        negativeAckRedeliveryDelay: Duration = .seconds(1),
        ackTimeout: Duration? = nil,
        deadLetterPolicy: DeadLetterPolicy? = nil,
        priorityLevel: Int32 = 0,
        ackGroupingTime: Duration = .milliseconds(10),
        patternAutoDiscoveryPeriod: Duration = .seconds(60)
    ) {
        self.subscriptionType = subscriptionType
        self.initialPosition = initialPosition
        self.receiverQueueSize = max(1, receiverQueueSize)
        self.consumerName = consumerName
        self.negativeAckRedeliveryDelay = negativeAckRedeliveryDelay
        self.ackTimeout = ackTimeout
        self.deadLetterPolicy = deadLetterPolicy
        self.priorityLevel = priorityLevel
        self.ackGroupingTime = ackGroupingTime
        self.patternAutoDiscoveryPeriod = max(.milliseconds(100), patternAutoDiscoveryPeriod)
    }
}
