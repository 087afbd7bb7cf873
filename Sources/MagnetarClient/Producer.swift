import NIOCore
import PulsarWire
import Synchronization

/// Publishes messages to a topic, or to the partitions of a partitioned topic.
///
/// `send` returns once the broker has stored the message, with its ``MessageID``;
/// `sendAsync` returns as soon as the message is queued and reports the outcome to a
/// callback, which is how many messages are kept in flight. Both wait while
/// ``ProducerConfiguration/maxPendingMessages`` messages are unreceipted on the chosen
/// partition (back-pressure: memory stays bounded). Per partition, messages are stored
/// in the order they were sent, also across reconnections: pending batches are sent
/// again, in order, on the new connection.
public final class Producer: Sendable, ClientMember {
    /// The topic as given (its full name).
    public let topic: String
    /// 0 for a topic that is not partitioned.
    public let partitionCount: Int
    let partitions: [TopicProducer]
    private let client: PulsarClient
    private let router: Mutex<MessageRouter>
    private let origin = ContinuousClock.now

    private init(client: PulsarClient, topic: TopicName, partitionCount: Int, partitions: [TopicProducer], router: MessageRouter) {
        self.client = client
        self.topic = topic.description
        self.partitionCount = partitionCount
        self.partitions = partitions
        self.router = Mutex(router)
    }

    static func create(client: PulsarClient, topic: String, configuration: ProducerConfiguration) async throws(PulsarClientError) -> Producer {
        let name = try TopicName(topic)
        let count = try await client.partitionCount(of: name)
        let producers: [TopicProducer] =
            count == 0
            ? [TopicProducer(client: client, topic: name, partition: -1, configuration: configuration)]
            : (0..<count).map { TopicProducer(client: client, topic: name.partition($0), partition: Int32($0), configuration: configuration) }
        do {
            for producer in producers { try await producer.start() }
        } catch {
            for producer in producers { await producer.close() }
            throw error
        }
        let switchInterval = configuration.batching.enabled ? configuration.batching.maxDelay : .zero
        let router = MessageRouter(
            partitions: max(1, count), mode: configuration.routingMode, switchInterval: switchInterval, start: Int.random(in: 0..<max(1, count))
        )
        let producer = Producer(client: client, topic: name, partitionCount: count, partitions: producers, router: router)
        do {
            try client.register(producer)
        } catch {
            await producer.close()
            throw error
        }
        return producer
    }

    /// The producer's name (the broker's choice when none was configured).
    public var name: String { self.partitions[0].name }

    private func route(_ message: OutgoingMessage) -> TopicProducer {
        guard self.partitions.count > 1 else { return self.partitions[0] }
        let elapsed = ContinuousClock.now - self.origin
        return self.partitions[self.router.withLock { $0.partition(forKey: message.key, elapsed: elapsed) }]
    }

    /// Sends `message` and waits until the broker stored it.
    @discardableResult
    public func send(_ message: OutgoingMessage) async throws(PulsarClientError) -> MessageID {
        let producer = self.route(message)
        try await producer.permits.acquire()
        let result: Result<MessageID, PulsarClientError> = await withCheckedContinuation { continuation in
            producer.enqueueAfterPermit(message) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Sends a UTF-8 text message.
    @discardableResult
    public func send(_ text: String, key: String? = nil, properties: [String: String] = [:]) async throws(PulsarClientError) -> MessageID {
        try await self.send(OutgoingMessage(text, key: key, properties: properties))
    }

    /// Queues `message`, waiting only for room in the pending queue; `completion` runs
    /// with its id once stored, or with the error. Completions of one partition run in
    /// send order.
    public func sendAsync(_ message: OutgoingMessage, completion: @escaping @Sendable (Result<MessageID, PulsarClientError>) -> Void) async throws(PulsarClientError) {
        try await self.route(message).send(message, completion: completion)
    }

    /// Sends the open batches now and waits until every message sent before is stored.
    public func flush() async throws(PulsarClientError) {
        for producer in self.partitions { try await producer.flush() }
    }

    /// Flushes, then closes: later sends fail with ``PulsarClientError/Code/producerClosed``.
    public func close() async {
        try? await self.flush()
        for producer in self.partitions { await producer.close() }
        self.client.forget(self)
    }
}

extension PulsarClient {
    /// Creates a producer on `topic`; partitioned topics get one producer per partition.
    public func createProducer(topic: String, configuration: ProducerConfiguration = ProducerConfiguration()) async throws(PulsarClientError) -> Producer {
        try await Producer.create(client: self, topic: topic, configuration: configuration)
    }
}
