import Foundation
import Logging
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// Receives the messages of a subscription on one or more topics (every partition of a
/// partitioned topic, several topics, or the topics of a namespace that match a pattern).
///
/// Messages arrive in a receiver queue bounded by flow permits and are taken with
/// ``receive()`` or by iterating ``messages``. Acknowledge each one (individually, or
/// cumulatively on Exclusive and Failover subscriptions); a negative acknowledgment asks
/// for redelivery after ``ConsumerConfiguration/negativeAckRedeliveryDelay``. The consumer
/// resubscribes on its own when its broker goes; unacknowledged messages then come again.
public final class Consumer: Sendable, ClientMember {
    public let subscription: String
    public let configuration: ConsumerConfiguration
    let members: ConsumerMembers
    let queue: ReceiverQueue
    let client: PulsarClient
    let durable: Bool
    let start: StartPosition?
    private let deadLetter = Mutex<Producer?>(nil)
    private let deadLetterTopic: String?
    /// A pattern consumer's discovery loop, and the topics it subscribed, each with its partitions.
    let discovery = Mutex<(loop: BackgroundWork.Handle?, topics: [String: [String]])>((nil, [:]))

    init(
        client: PulsarClient, subscription: String, configuration: ConsumerConfiguration, durable: Bool, start: StartPosition?, deadLetterTopic: String?
    ) {
        self.client = client
        self.subscription = subscription
        self.configuration = configuration
        self.members = ConsumerMembers()
        self.queue = ReceiverQueue()
        self.durable = durable
        self.start = start
        self.deadLetterTopic = deadLetterTopic
    }

    /// Every topic (partition) consumed now, by full name.
    public var topics: [String] { self.members.topics }

    /// Subscribes to `topics`, expanding partitioned ones; `start` makes a reader.
    static func subscribe(
        client: PulsarClient, topics: [String], subscription: String, configuration: ConsumerConfiguration, durable: Bool = true,
        start: StartPosition? = nil
    ) async throws(PulsarClientError) -> Consumer {
        guard !topics.isEmpty else { throw PulsarClientError(.invalidArgument, "a consumer needs at least one topic") }
        let first = try TopicName(topics[0])
        let consumer = try Self.make(
            client: client, subscription: subscription, configuration: configuration, durable: durable, start: start,
            defaultDeadLetterTopic: "\(first)-\(subscription)-DLQ"
        )
        do {
            for topic in topics { _ = try await consumer.add(try TopicName(topic)) }
            try client.register(consumer)
        } catch {
            await consumer.close()
            throw error
        }
        return consumer
    }

    /// A consumer with no topic yet.
    static func make(
        client: PulsarClient, subscription: String, configuration: ConsumerConfiguration, durable: Bool, start: StartPosition?, defaultDeadLetterTopic: String
    ) throws(PulsarClientError) -> Consumer {
        guard !subscription.isEmpty else { throw PulsarClientError(.invalidArgument, "the subscription name is empty") }
        let deadLetterTopic = configuration.deadLetterPolicy.map { $0.deadLetterTopic ?? defaultDeadLetterTopic }
        return Consumer(client: client, subscription: subscription, configuration: configuration, durable: durable, start: start, deadLetterTopic: deadLetterTopic)
    }

    /// Subscribes to `topic` (each partition of a partitioned one) and returns the full
    /// names of what it subscribed. On failure nothing of `topic` stays subscribed.
    func add(_ topic: TopicName) async throws(PulsarClientError) -> [String] {
        let count = try await self.client.partitionCount(of: topic)
        var names: [(TopicName, Int32)] = [(topic, -1)]
        if count > 0 { names = (0..<count).map { (topic.partition($0), Int32($0)) } }
        var added: [TopicConsumer] = []
        do {
            for (name, partition) in names {
                let member = self.members.add { index in
                    TopicConsumer(
                        client: self.client, topic: name, partition: partition, index: index, subscription: self.subscription,
                        configuration: self.configuration, durable: self.durable, start: self.start, queue: self.queue,
                        failed: { [weak self] member, error in await self?.failed(member, error) }
                    )
                }
                added.append(member)
                try await member.start()
            }
        } catch {
            for member in added { await self.remove(member) }
            throw error
        }
        return added.map(\.topic.description)
    }

    /// A topic's consumer could not subscribe again. A pattern consumer drops a topic that
    /// is gone (its discovery subscribes again if it comes back); otherwise receivers fail.
    private func failed(_ member: TopicConsumer, _ error: PulsarClientError) async {
        let following = self.discovery.withLock { $0.loop != nil }
        if following && error.serverError == .topicNotFound {
            await self.remove(member)
            self.discovery.withLock { discovery in
                let base = (member.topic.partitionedTopic ?? member.topic).description
                discovery.topics[base]?.removeAll { $0 == member.topic.description }
                if discovery.topics[base]?.isEmpty == true { discovery.topics[base] = nil }
            }
            return
        }
        self.queue.fail(error)
    }

    /// Closes the subscription session of `member` and forgets it and its buffered messages.
    func remove(_ member: TopicConsumer) async {
        _ = self.members.remove(topic: member.topic.description)
        await member.close()
        self.queue.removeAll(from: member.index)
    }

    /// The next message, waiting for one. Messages past the dead-letter policy's
    /// redelivery limit are moved to the dead-letter topic instead of returned.
    public func receive() async throws(PulsarClientError) -> Message {
        while true {
            let delivery = try await self.queue.take()
            // A topic a pattern consumer dropped leaves nothing to hand out.
            guard let member = self.members.member(at: delivery.source) else { continue }
            member.taken(delivery.message)
            if let policy = self.configuration.deadLetterPolicy, Int(delivery.message.redeliveryCount) >= policy.maxRedeliverCount {
                do {
                    try await self.moveToDeadLetter(delivery.message)
                    continue
                } catch {
                    self.client.logger.info("a message could not be moved to the dead-letter topic", metadata: ["error": "\(error)"])
                }
            }
            return delivery.message
        }
    }

    /// The next message if one is buffered, without waiting.
    public func tryReceive() throws(PulsarClientError) -> Message? {
        while let delivery = try self.queue.poll() {
            guard let member = self.members.member(at: delivery.source) else { continue }
            member.taken(delivery.message)
            return delivery.message
        }
        return nil
    }

    private func moveToDeadLetter(_ message: Message) async throws(PulsarClientError) {
        guard let topic = self.deadLetterTopic else { return }
        let existing = self.deadLetter.withLock { $0 }
        let producer: Producer
        if let existing {
            producer = existing
        } else {
            producer = try await self.client.createProducer(topic: topic, configuration: ProducerConfiguration(batching: .disabled))
            self.deadLetter.withLock { $0 = producer }
        }
        var properties = message.properties
        properties["REAL_TOPIC"] = message.topic
        properties["ORIGIN_MESSAGE_ID"] = message.id.description
        try await producer.send(OutgoingMessage(payload: message.payload, key: message.key, properties: properties, eventTime: message.eventTime))
        self.acknowledge(message)
    }

    /// The consumer of `message`'s topic; nil when a pattern consumer has dropped the topic.
    private func member(for message: Message) -> TopicConsumer? {
        self.members.member(forTopic: message.topic)
    }

    /// Acknowledges one message.
    public func acknowledge(_ message: Message) {
        guard let member = self.member(for: message) else { return }
        if message.chunks.isEmpty {
            member.acknowledge(message.id)
        } else {
            for chunk in message.chunks { member.acknowledge(chunk) }
        }
    }

    /// Acknowledges `message` and every message before it on its topic (partition).
    /// Not allowed on Shared and Key_Shared subscriptions.
    public func acknowledgeCumulative(_ message: Message) throws(PulsarClientError) {
        guard self.configuration.subscriptionType == .exclusive || self.configuration.subscriptionType == .failover else {
            throw PulsarClientError(.invalidArgument, "cumulative acknowledgment is not allowed on \(self.configuration.subscriptionType) subscriptions")
        }
        self.member(for: message)?.acknowledgeCumulative(message.id)
    }

    /// Asks for `message` again after the negative-ack delay.
    public func negativeAcknowledge(_ message: Message) {
        guard let member = self.member(for: message) else { return }
        for id in message.chunks.isEmpty ? [message.id] : message.chunks { member.negativeAcknowledge(id) }
    }

    /// Moves the subscription to `id` (on its partition); the message at `id` is
    /// delivered again. Buffered messages are dropped.
    public func seek(to id: MessageID) async throws(PulsarClientError) {
        let members = self.members.all
        let targets = id.partition >= 0 && members.count > 1 ? members.filter { $0.partition == id.partition } : members
        for member in targets { try await self.seek(member) { $0.messageID = id.wire } }
    }

    /// Moves the subscription to the first message published at or after `time`
    /// (milliseconds since the epoch), on every topic.
    public func seek(toPublishTime time: UInt64) async throws(PulsarClientError) {
        for member in self.members.all { try await self.seek(member) { $0.messagePublishTime = time } }
    }

    private func seek(_ member: TopicConsumer, _ fill: @Sendable (inout Pulsar_Proto_CommandSeek) -> Void) async throws(PulsarClientError) {
        member.flushAcks()
        _ = try await member.request { requestID in
            var command = Pulsar_Proto_BaseCommand()
            command.type = .seek
            command.seek.consumerID = member.consumerID
            command.seek.requestID = requestID
            fill(&command.seek)
            return command
        }
        self.queue.removeAll(from: member.index)
    }

    /// Deletes the subscription (the consumer must be its only one) and closes.
    public func unsubscribe() async throws(PulsarClientError) {
        for member in self.members.all {
            _ = try await member.request { requestID in
                var command = Pulsar_Proto_BaseCommand()
                command.type = .unsubscribe
                command.unsubscribe.consumerID = member.consumerID
                command.unsubscribe.requestID = requestID
                return command
            }
        }
        await self.close()
    }

    /// Sends pending acknowledgments, then closes every topic's subscription session.
    public func close() async {
        self.discovery.withLock { $0.loop }?.cancel()
        for member in self.members.all { await member.close() }
        self.queue.fail(PulsarClientError(.consumerClosed, "the consumer was closed"))
        let deadLetter = self.deadLetter.withLock { $0 }
        await deadLetter?.close()
        self.client.forget(self)
    }
}

extension PulsarClient {
    /// Subscribes to `topic` (all partitions of a partitioned topic).
    public func subscribe(
        topic: String, subscription: String, configuration: ConsumerConfiguration = ConsumerConfiguration()
    ) async throws(PulsarClientError) -> Consumer {
        try await Consumer.subscribe(client: self, topics: [topic], subscription: subscription, configuration: configuration)
    }

    /// Subscribes to several topics with one receiver queue.
    public func subscribe(
        topics: [String], subscription: String, configuration: ConsumerConfiguration = ConsumerConfiguration()
    ) async throws(PulsarClientError) -> Consumer {
        try await Consumer.subscribe(client: self, topics: topics, subscription: subscription, configuration: configuration)
    }
}
