import PulsarProto

/// How a producer batches, compresses and waits.
public struct ProducerConfiguration: Sendable {
    /// What a producer asks for when other producers use the same topic.
    public enum AccessMode: String, Sendable, Hashable, CaseIterable {
        /// Any number of producers (the default).
        case shared
        /// Fails at once while another producer is connected.
        case exclusive
        /// Waits until the topic has no other producer.
        case waitForExclusive
        /// Takes over, fencing out the current exclusive producer.
        case exclusiveWithFencing

        var wire: Pulsar_Proto_ProducerAccessMode {
            switch self {
            case .shared: .shared
            case .exclusive: .exclusive
            case .waitForExclusive: .waitForExclusive
            case .exclusiveWithFencing: .exclusiveWithFencing
            }
        }
    }

    /// The producer's name; nil lets the broker choose a unique one.
    public var name: String?
    /// Batching: on by default, 1000 messages, 128 KiB, 10 ms.
    public var batching: BatchPolicy
    public var compression: MessageCompression
    /// Messages sent but not yet receipted, per partition, before `send` waits. Default 1000.
    public var maxPendingMessages: Int
    /// A message not receipted this long after it was sealed fails; nil waits forever.
    /// Default 30 s.
    public var sendTimeout: Duration?
    public var accessMode: AccessMode
    /// Partition choice for messages without a key on partitioned topics.
    public var routingMode: RoutingMode
    /// Splits a message larger than the broker's limit into chunks that consumers put
    /// back together (other messages are still batched). Default off: such a message
    /// fails with ``PulsarClientError/Code/messageTooBig``.
    public var chunking: Bool

    public init(
        name: String? = nil,
        batching: BatchPolicy = BatchPolicy(),
        compression: MessageCompression = .none,
        maxPendingMessages: Int = 1000,
        sendTimeout: Duration? = .seconds(30),
        accessMode: AccessMode = .shared,
        routingMode: RoutingMode = .roundRobin,
        chunking: Bool = false
    ) {
        self.name = name
        self.batching = batching
        self.compression = compression
        self.maxPendingMessages = max(1, maxPendingMessages)
        self.sendTimeout = sendTimeout
        self.accessMode = accessMode
        self.routingMode = routingMode
        self.chunking = chunking
    }
}
