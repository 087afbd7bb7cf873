import ManagedLedger
import NIOCore

/// Where a topic reports what happens to a producer, without knowing its connection.
protocol ProducerSink: AnyObject, Sendable {
    /// A WaitForExclusive producer that was queued now holds the topic.
    func producerReady(_ producer: Producer)
    /// The topic closed the producer (fenced out, or the topic closed or unloaded): the
    /// client is to reconnect and look the topic up again.
    func producerClosed(_ producer: Producer)
}

/// Where a subscription sends a consumer's messages and notices, without knowing its
/// connection. Called on the topic's event loop only.
protocol ConsumerSink: AnyObject, Sendable {
    /// Sends one stored entry (`[u16 magic][u32 crc32c][metadata and payload]`) as a
    /// message. `ackSet` marks, for a batch acked in part, the messages still to deliver.
    /// Nothing is flushed until ``flush()``.
    func deliver(_ consumer: any ConsumerHandle, _ position: Position, entry: ByteBuffer, redeliveryCount: UInt32, ackSet: [Int64]?)
    /// Sends what ``deliver(_:_:entry:redeliveryCount:ackSet:)`` queued.
    func flush()
    /// Tells the client whether the consumer is now the active one of its Failover
    /// subscription.
    func activeChanged(_ consumer: any ConsumerHandle, active: Bool)
    /// The broker closed the consumer (a seek, or its topic closed or unloaded): the
    /// client subscribes again.
    func consumerClosed(_ consumer: any ConsumerHandle)
    /// The consumer has everything of its terminated topic (REACHED_END_OF_TOPIC).
    func reachedEndOfTopic(_ consumer: any ConsumerHandle)
    /// Whether the client takes more messages now (its socket takes writes); dispatch
    /// skips its consumers meanwhile, and the sink has them flowed when it does again.
    var isReady: Bool { get }
}

extension ConsumerSink {
    var isReady: Bool { true }
}
