import PulsarProto
import PulsarWire

/// Reads a topic from a chosen message on, without a stored subscription: the broker
/// keeps no cursor and nothing needs acknowledging.
///
/// The reader starts at ``StartPosition`` (inclusive or not), can tell whether more
/// messages are available now, and can seek by id or publish time. After a reconnection
/// it continues after the last message it returned. On a partitioned topic it reads
/// every partition (each in order; partitions interleave), starting at the earliest or
/// latest message of each.
public final class Reader: Sendable {
    public let topic: String
    let consumer: Consumer

    private init(topic: String, consumer: Consumer) {
        self.topic = topic
        self.consumer = consumer
    }

    static func create(client: PulsarClient, topic: String, start: MessageID, inclusive: Bool, receiverQueueSize: Int) async throws(PulsarClientError) -> Reader {
        let name = try TopicName(topic)
        if start != .earliest, start != .latest, try await client.partitionCount(of: name) > 0 {
            throw PulsarClientError(
                .invalidArgument, "\(name) is partitioned: a reader of all its partitions starts at the earliest or latest message; read one partition to start at \(start)"
            )
        }
        let configuration = ConsumerConfiguration(
            subscriptionType: .exclusive, initialPosition: start == .earliest ? .earliest : .latest, receiverQueueSize: receiverQueueSize
        )
        let subscription = "reader-\(UInt64.random(in: 0...UInt64.max) & 0xFF_FFFF_FFFF)"
        let consumer = try await Consumer.subscribe(
            client: client, topics: [name.description], subscription: subscription, configuration: configuration, durable: false,
            start: StartPosition(id: start, inclusive: inclusive)
        )
        return Reader(topic: name.description, consumer: consumer)
    }

    /// The next message, waiting for one.
    public func readNext() async throws(PulsarClientError) -> Message {
        try await self.consumer.receive()
    }

    /// The messages as an `AsyncSequence`.
    public var messages: Consumer.Messages { self.consumer.messages }

    /// Whether a message after the last one read is stored now (on any partition).
    public func hasMessageAvailable() async throws(PulsarClientError) -> Bool {
        if self.consumer.queue.count > 0 { return true }
        for member in self.consumer.members.all where try await Self.hasMessageAvailable(member) { return true }
        return false
    }

    private static func hasMessageAvailable(_ member: TopicConsumer) async throws(PulsarClientError) -> Bool {
        let frame = try await member.request { requestID in
            var command = Pulsar_Proto_BaseCommand()
            command.type = .getLastMessageID
            command.getLastMessageID.consumerID = member.consumerID
            command.getLastMessageID.requestID = requestID
            return command
        }
        let last = MessageID(frame.command.getLastMessageIDResponse.lastMessageID)
        guard last.entryID >= 0, last.ledgerID >= 0 else { return false }
        let (lastTaken, start) = member.progress
        if let lastTaken { return Self.after(last, lastTaken) }
        guard let start, start.id != MessageID.earliest else { return true }
        if start.id == MessageID.latest { return false }
        guard start.inclusive else { return Self.after(last, start.id) }
        if (last.ledgerID, last.entryID) != (start.id.ledgerID, start.id.entryID) {
            return (last.ledgerID, last.entryID) > (start.id.ledgerID, start.id.entryID)
        }
        return start.id.batchIndex < 0 || last.batchIndex >= start.id.batchIndex
    }

    /// Whether the (last) id `last` is past `id`, comparing batch indexes only within one entry.
    private static func after(_ last: MessageID, _ id: MessageID) -> Bool {
        if (last.ledgerID, last.entryID) != (id.ledgerID, id.entryID) { return (last.ledgerID, last.entryID) > (id.ledgerID, id.entryID) }
        return id.batchIndex >= 0 && last.batchIndex > id.batchIndex
    }

    /// Continues from `id`: the next message read is `id` itself. On a partitioned
    /// topic, `id`'s partition moves and the others go on where they are.
    public func seek(to id: MessageID) async throws(PulsarClientError) {
        let members = self.consumer.members.all
        let targets = members.count > 1 ? members.filter { $0.partition == id.partition } : members
        guard !targets.isEmpty else {
            throw PulsarClientError(.invalidArgument, "\(id) is not a message of a partition of \(self.topic)")
        }
        for member in targets { member.restart(at: StartPosition(id: id, inclusive: true)) }
        try await self.consumer.seek(to: id)
    }

    /// Continues from the first message published at or after `time` (ms since the
    /// epoch), on every partition.
    public func seek(toPublishTime time: UInt64) async throws(PulsarClientError) {
        for member in self.consumer.members.all { member.restart(at: StartPosition(id: .earliest, inclusive: true, publishedAtOrAfter: time)) }
        try await self.consumer.seek(toPublishTime: time)
    }

    public func close() async {
        await self.consumer.close()
    }
}

extension PulsarClient {
    /// Creates a reader of `topic` starting at `start`: the first message read is
    /// `start` itself when `inclusive`, else the one after it. A partitioned topic is
    /// read whole, from `.earliest` or `.latest` only.
    public func createReader(
        topic: String, start: MessageID = .earliest, inclusive: Bool = false, receiverQueueSize: Int = 1000
    ) async throws(PulsarClientError) -> Reader {
        try await Reader.create(client: self, topic: topic, start: start, inclusive: inclusive, receiverQueueSize: receiverQueueSize)
    }
}
