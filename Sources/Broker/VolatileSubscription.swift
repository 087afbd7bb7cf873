import Foundation
import ManagedLedger
import NIOCore
import PulsarProto
import Synchronization

/// A subscription of a non-persistent topic: its consumers, and the rule of its type
/// for which of them gets each message. Nothing is kept for it; confined to its topic's
/// loop.
final class VolatileSubscription: @unchecked Sendable {
    let name: String
    let partition: Int
    private(set) weak var topic: NonPersistentTopic?
    private var consumers: ConsumerSet<VolatileConsumer>

    init(name: String, type: Pulsar_Proto_CommandSubscribe.SubType, partition: Int, topic: NonPersistentTopic) {
        self.name = name
        self.partition = partition
        self.topic = topic
        self.consumers = ConsumerSet(type: type, partition: partition)
    }

    var type: Pulsar_Proto_CommandSubscribe.SubType { self.consumers.type }
    var isEmpty: Bool { self.consumers.isEmpty }
    var attached: [VolatileConsumer] { self.consumers.consumers }

    func add(_ consumer: VolatileConsumer, type: Pulsar_Proto_CommandSubscribe.SubType) throws(BrokerError) {
        try self.consumers.add(consumer, type: type, subscription: self.name)
    }

    func remove(_ consumer: VolatileConsumer) {
        consumer.markClosed()
        guard self.consumers.remove(consumer) else { return }
        self.announceActiveConsumer()
    }

    func removeAll() -> [VolatileConsumer] {
        let removed = self.consumers.removeAll()
        for consumer in removed { consumer.markClosed() }
        return removed
    }

    /// Sends a message to the consumer its type picks, if that one has a permit; false
    /// when none could take it (the message is dropped for this subscription).
    func deliver(_ position: Position, _ entry: ByteBuffer, _ facts: EntryFacts) -> Bool {
        let target: VolatileConsumer?
        if self.consumers.type == .keyShared {
            target = self.consumers.owner(ofKey: facts.key).flatMap { $0.permits > 0 ? $0 : nil }
        } else {
            target = self.consumers.nextConsumer()
        }
        guard let target, target.send(position, entry, messages: facts.messages) else { return false }
        target.sink.flush()
        return true
    }

    /// Failover: tells every consumer whether it is the active one.
    func announceActiveConsumer() {
        guard self.consumers.type == .failover else { return }
        let active = self.consumers.active
        for consumer in self.consumers.consumers {
            consumer.sink.activeChanged(consumer, active: consumer === active)
            consumer.sink.flush()
        }
    }
}

/// A consumer of a non-persistent topic: its permits and its connection's sink. There
/// is nothing to acknowledge or redeliver; seeks and the last message id are refused, as
/// in Pulsar.
final class VolatileConsumer: DispatchTarget, ConsumerHandle, @unchecked Sendable {
    let consumerID: UInt64
    let name: String
    let priorityLevel: Int32
    let subscription: VolatileSubscription
    let sink: any ConsumerSink
    let connectedSince = Date()
    private var credit = 0
    private let closedFlag = Atomic<Bool>(false)

    init(consumerID: UInt64, name: String, priorityLevel: Int32, subscription: VolatileSubscription, sink: any ConsumerSink) {
        self.consumerID = consumerID
        self.name = name
        self.priorityLevel = priorityLevel
        self.subscription = subscription
        self.sink = sink
    }

    var partition: Int { self.subscription.partition }
    var permits: Int { self.isClosed ? 0 : self.credit }

    func markClosed() { self.closedFlag.store(true, ordering: .releasing) }

    var isClosed: Bool { self.closedFlag.load(ordering: .acquiring) }

    func send(_ position: Position, _ entry: ByteBuffer, messages: Int) -> Bool {
        guard self.permits > 0 else { return false }
        self.credit -= messages
        self.sink.deliver(self, position, entry: entry, redeliveryCount: 0, ackSet: nil)
        return true
    }

    private var topic: NonPersistentTopic? { self.subscription.topic }

    private static func unsupported(_ what: String) -> BrokerError {
        BrokerError(.notAllowed, "\(what) is not supported on non-persistent topics")
    }

    func flow(permits: Int) { self.topic?.onLoop { _ in self.credit += permits } }

    func ack(_ messages: [AckedMessage], cumulative: Bool, completion: @escaping @Sendable (BrokerError?) -> Void) { completion(nil) }

    func redeliver(_ positions: [Position]) {}

    func release() { self.topic?.onLoop { $0.removeConsumer(self) } }

    func subscribed() { self.topic?.onLoop { _ in self.subscription.announceActiveConsumer() } }

    func unsubscribe() async throws {
        guard let topic = self.topic else { return }
        await topic.removeConsumer(self)
    }

    func seek(_ request: Pulsar_Proto_CommandSeek) async throws { throw Self.unsupported("seek") }

    func lastMessage() async throws -> LastMessage { throw Self.unsupported("GetLastMessageId") }

    func stats() async throws -> ConsumerStats {
        guard let topic = self.topic else { throw BrokerError(.serviceNotReady, "the topic was closed; retry") }
        return await topic.consumerStats(self)
    }
}

extension NonPersistentTopic {
    func consumerStats(_ consumer: VolatileConsumer) -> ConsumerStats {
        ConsumerStats(name: consumer.name, permits: max(0, consumer.permits), unacked: 0, backlog: 0, type: ConsumerSet<VolatileConsumer>.describe(consumer.subscription.type))
    }
}
