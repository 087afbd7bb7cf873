/// What one broker lets its clients hold, with Pulsar's setting names and defaults: past a
/// limit a request is refused with Pulsar's error and nothing else is lost. 0 means no
/// limit where Pulsar says so.
public struct BrokerLimits: Sendable, Equatable {
    /// `brokerMaxConnections`: binary-protocol connections at once (default 0: no limit).
    public var maxConnections = 0
    /// `brokerMaxConnectionsPerIp`: connections at once from one address (default 0: no limit).
    public var maxConnectionsPerIP = 0
    /// `maxProducersPerTopic` (default 0: no limit).
    public var maxProducersPerTopic = 0
    /// `maxConsumersPerTopic` (default 0: no limit).
    public var maxConsumersPerTopic = 0
    /// `maxConsumersPerSubscription` (default 0: no limit).
    public var maxConsumersPerSubscription = 0
    /// `maxSubscriptionsPerTopic` (default 0: no limit).
    public var maxSubscriptionsPerTopic = 0
    /// `maxTopicsPerNamespace`: topics and partitioned topics of a namespace (default 0: no limit).
    public var maxTopicsPerNamespace = 0
    /// `maxPendingPublishRequestsPerConnection`: SENDs of one connection waiting for their
    /// receipt before the broker stops reading it (default 1000).
    public var maxPendingPublishRequestsPerConnection = 1000
    /// `maxMessagePublishBufferSizeInMB`: bytes of SENDs awaiting their receipt over the
    /// whole broker past which connections stop reading as they take one (default 256 MiB).
    public var maxMessagePublishBufferBytes = 256 << 20
    /// `maxUnackedMessagesPerConsumer`: a consumer holding as many messages unacknowledged
    /// is sent nothing more until half of them are (default 50 000; 0: no limit).
    public var maxUnackedMessagesPerConsumer = 50_000
    /// `maxUnackedMessagesPerSubscription`, likewise for a subscription (default 200 000).
    public var maxUnackedMessagesPerSubscription = 200_000
    /// `maxNumPartitionsPerPartitionedTopic` (default 0: up to ``partitionCeiling``).
    public var maxNumPartitionsPerPartitionedTopic = 0
    /// `keepAliveIntervalSeconds`: the broker PINGs a client this long after it last heard
    /// from it, and closes the connection when the next interval passes with no answer
    /// (default 30 s).
    public var keepAliveInterval: Duration = .seconds(30)

    public init() {}

    /// The most partitions a topic may have whatever the setting says: listing, stats and
    /// deletes visit every partition.
    public static let partitionCeiling = 10_000

    /// The most partitions a topic may have here.
    public var maxPartitions: Int {
        self.maxNumPartitionsPerPartitionedTopic > 0 ? min(self.maxNumPartitionsPerPartitionedTopic, Self.partitionCeiling) : Self.partitionCeiling
    }

    /// Why a topic cannot have `count` partitions, or nil when it can.
    func partitionRefusal(_ count: Int) -> String? {
        if count < 1 { return "the number of partitions must be more than 0" }
        if count > self.maxPartitions { return "the number of partitions must be at most \(self.maxPartitions); asked for \(count)" }
        return nil
    }
}
