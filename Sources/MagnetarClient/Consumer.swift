import Foundation
import Logging
import NIOCore
import PulsarProto
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
    /// Every topic (partition) consumed, by full name.
    public let topics: [String]
    public let subscription: String
    public let configuration: ConsumerConfiguration
    let members: [TopicConsumer]
    let queue: ReceiverQueue
    private let client: PulsarClient
    private let indexByTopic: [String: Int]
    private let deadLetter = Mutex<Producer?>(nil)
    private let deadLetterTopic: String?

    init(client: PulsarClient, subscription: String, configuration: ConsumerConfiguration, members: [TopicConsumer], queue: ReceiverQueue, deadLetterTopic: String?) {
        self.client = client
        self.subscription = subscription
        self.configuration = configuration
        self.members = members
        self.queue = queue
        self.topics = members.map(\.topic.description)
        var indexByTopic: [String: Int] = [:]
        for member in members { indexByTopic[member.topic.description] = member.index }
        self.indexByTopic = indexByTopic
        self.deadLetterTopic = deadLetterTopic
    }

    /// Subscribes to `topics`, expanding partitioned ones; `start` makes a reader.
    static func subscribe(
        client: PulsarClient, topics: [String], subscription: String, configuration: ConsumerConfiguration, durable: Bool = true,
        start: StartPosition? = nil
    ) async throws(PulsarClientError) -> Consumer {
        guard !topics.isEmpty else { throw PulsarClientError(.invalidArgument, "a consumer needs at least one topic") }
        guard !subscription.isEmpty else { throw PulsarClientError(.invalidArgument, "the subscription name is empty") }
        var names: [(TopicName, Int32)] = []
        for topic in topics {
            let name = try TopicName(topic)
            let count = try await client.partitionCount(of: name)
            if count == 0 { names.append((name, -1)) } else { names += (0..<count).map { (name.partition($0), Int32($0)) } }
        }
        let queue = ReceiverQueue()
        let members = names.enumerated().map { index, pair in
            TopicConsumer(
                client: client, topic: pair.0, partition: pair.1, index: index, subscription: subscription, configuration: configuration,
                durable: durable, start: start, queue: queue
            )
        }
        do {
            for member in members { try await member.start() }
        } catch {
            for member in members { await member.close() }
            throw error
        }
        let deadLetterTopic = configuration.deadLetterPolicy.map { $0.deadLetterTopic ?? "\((try? TopicName(topics[0]))?.description ?? topics[0])-\(subscription)-DLQ" }
        let consumer = Consumer(
            client: client, subscription: subscription, configuration: configuration, members: members, queue: queue, deadLetterTopic: deadLetterTopic
        )
        do {
            try client.register(consumer)
        } catch {
            await consumer.close()
            throw error
        }
        return consumer
    }

    /// The next message, waiting for one. Messages past the dead-letter policy's
    /// redelivery limit are moved to the dead-letter topic instead of returned.
    public func receive() async throws(PulsarClientError) -> Message {
        while true {
            let delivery = try await self.queue.take()
            let member = self.members[delivery.source]
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
        guard let delivery = try self.queue.poll() else { return nil }
        self.members[delivery.source].taken(delivery.message)
        return delivery.message
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

    private func member(for message: Message) -> TopicConsumer {
        self.members[self.indexByTopic[message.topic] ?? 0]
    }

    /// Acknowledges one message.
    public func acknowledge(_ message: Message) {
        let member = self.member(for: message)
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
        self.member(for: message).acknowledgeCumulative(message.id)
    }

    /// Asks for `message` again after the negative-ack delay.
    public func negativeAcknowledge(_ message: Message) {
        let member = self.member(for: message)
        for id in message.chunks.isEmpty ? [message.id] : message.chunks { member.negativeAcknowledge(id) }
    }

    /// Moves the subscription to `id` (on its partition); the message at `id` is
    /// delivered again. Buffered messages are dropped.
    public func seek(to id: MessageID) async throws(PulsarClientError) {
        let targets = id.partition >= 0 && self.members.count > 1 ? self.members.filter { $0.partition == id.partition } : self.members
        for member in targets { try await self.seek(member) { $0.messageID = id.wire } }
    }

    /// Moves the subscription to the first message published at or after `time`
    /// (milliseconds since the epoch), on every topic.
    public func seek(toPublishTime time: UInt64) async throws(PulsarClientError) {
        for member in self.members { try await self.seek(member) { $0.messagePublishTime = time } }
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
        for member in self.members {
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
        for member in self.members { await member.close() }
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

    /// Subscribes to the topics of `namespace` (`tenant/namespace`) whose local name
    /// matches `pattern` now; topics created later are not added.
    public func subscribe(
        namespace: String, topicsMatching pattern: String, subscription: String, configuration: ConsumerConfiguration = ConsumerConfiguration()
    ) async throws(PulsarClientError) -> Consumer {
        let regex: Regex<AnyRegexOutput>
        do {
            regex = try Regex(pattern)
        } catch {
            throw PulsarClientError(.invalidArgument, "'\(pattern)' is not a regular expression: \(error)")
        }
        var names: Set<String> = []
        for topic in try await self.topics(ofNamespace: namespace) {
            let name = try TopicName(topic)
            var local = name.local
            if let range = local.range(of: "-partition-", options: .backwards), Int(local[range.upperBound...]) != nil {
                local = String(local[..<range.lowerBound])
            }
            if (try? regex.wholeMatch(in: local)) != nil {
                names.insert("\(name.domain)://\(name.namespaceName)/\(local)")
            }
        }
        guard !names.isEmpty else {
            throw PulsarClientError(.invalidArgument, "no topic of \(namespace) matches '\(pattern)'")
        }
        return try await Consumer.subscribe(client: self, topics: names.sorted(), subscription: subscription, configuration: configuration)
    }
}
