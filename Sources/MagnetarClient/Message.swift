public import NIOCore

/// A message to publish: its bytes and what travels with them.
///
/// The payload is kept as the given `ByteBuffer` (no copy) until it is written into its
/// batch. `key` routes the message on partitioned topics and groups it on Key_Shared
/// subscriptions; `orderingKey`, when set, is used for Key_Shared instead.
public struct OutgoingMessage: Sendable {
    public var payload: ByteBuffer
    public var key: String?
    public var orderingKey: [UInt8]?
    public var properties: [String: String]
    /// Milliseconds since the epoch, set by the application; 0 when absent.
    public var eventTime: UInt64
    /// Delivers the message no earlier than this time (milliseconds since the epoch).
    public var deliverAt: Int64?

    public init(
        payload: ByteBuffer,
        key: String? = nil,
        orderingKey: [UInt8]? = nil,
        properties: [String: String] = [:],
        eventTime: UInt64 = 0,
        deliverAt: Int64? = nil
    ) {
        self.payload = payload
        self.key = key
        self.orderingKey = orderingKey
        self.properties = properties
        self.eventTime = eventTime
        self.deliverAt = deliverAt
    }

    /// A message whose payload is the UTF-8 bytes of `text`.
    public init(_ text: String, key: String? = nil, properties: [String: String] = [:]) {
        self.init(payload: ByteBuffer(string: text), key: key, properties: properties)
    }
}

/// A message received by a ``Consumer`` or ``Reader``.
///
/// `payload` is a slice of the received (and, when compressed, decompressed) entry.
public struct Message: Sendable {
    public var id: MessageID
    /// The topic it was read from (a partition's own name on partitioned topics).
    public var topic: String
    public var payload: ByteBuffer
    public var key: String?
    public var orderingKey: [UInt8]?
    public var properties: [String: String]
    public var producerName: String
    public var sequenceID: UInt64
    /// Milliseconds since the epoch at which the producer published it.
    public var publishTime: UInt64
    /// The application's event time in milliseconds since the epoch; 0 when not set.
    public var eventTime: UInt64
    /// How many times the broker has delivered it before (Shared and Key_Shared).
    public var redeliveryCount: UInt32
    /// For a message sent in chunks, the id of every chunk (acknowledged together).
    var chunks: [MessageID] = []

    public init(
        id: MessageID, topic: String, payload: ByteBuffer, key: String? = nil, orderingKey: [UInt8]? = nil,
        properties: [String: String] = [:], producerName: String = "", sequenceID: UInt64 = 0, publishTime: UInt64 = 0,
        eventTime: UInt64 = 0, redeliveryCount: UInt32 = 0
    ) {
        self.id = id
        self.topic = topic
        self.payload = payload
        self.key = key
        self.orderingKey = orderingKey
        self.properties = properties
        self.producerName = producerName
        self.sequenceID = sequenceID
        self.publishTime = publishTime
        self.eventTime = eventTime
        self.redeliveryCount = redeliveryCount
    }

    /// The payload decoded as UTF-8 (invalid bytes replaced).
    public var text: String { String(buffer: self.payload) }
}
