import ManagedLedger
import PulsarProto
import PulsarWire

/// The topic a producer publishes to, persistent or not, as its connection drives it.
protocol PublishTarget: AnyObject, Sendable {
    var name: TopicName { get }
    /// Stores (or, for a non-persistent topic, dispatches) a message and answers it.
    func publish(_ producer: Producer, _ payload: PulsarPayload, sequenceIDs: ClosedRange<Int64>, completion: @escaping Topic.PublishCompletion)
    /// The producer closed, or its connection went.
    func release(_ producer: Producer)
    /// What PRODUCER_SUCCESS tells `producer`'s client: whether it holds its place (a
    /// WaitForExclusive one may still wait) and its highest sequence id stored, or -1.
    func admission(of producer: Producer) async -> (ready: Bool, lastSequenceID: Int64)
    /// Makes the topic epoch `producer` was granted durable, before its client hears it.
    func storeEpoch(of producer: Producer) async throws(BrokerError)
}

/// A consumer, of a persistent topic or not, as its connection drives it: every command
/// the connection gets for it goes through here.
protocol ConsumerHandle: AnyObject, Sendable {
    var consumerID: UInt64 { get }
    /// Set once the consumer was closed (by its client, a seek, or its topic).
    var isClosed: Bool { get }
    /// The partition set in the ids of the messages it is sent (-1: none).
    var partition: Int { get }
    func flow(permits: Int)
    /// Applies an ACK; `completion` gets the refusal, if any.
    func ack(_ messages: [AckedMessage], cumulative: Bool, completion: @escaping @Sendable (BrokerError?) -> Void)
    func redeliver(_ positions: [Position])
    /// The client closed it, or its connection went.
    func release()
    /// Its client knows it exists (SUCCESS sent): Failover consumers hear which is active.
    func subscribed()
    func unsubscribe() async throws
    func seek(_ request: Pulsar_Proto_CommandSeek) async throws
    func lastMessage() async throws -> LastMessage
    func stats() async throws -> ConsumerStats
}

extension Topic: PublishTarget {
    nonisolated func release(_ producer: Producer) {
        self.onLoop { $0.removeProducer(producer) }
    }

    func admission(of producer: Producer) -> (ready: Bool, lastSequenceID: Int64) {
        (self.isActive(producer), self.lastSequenceID(of: producer.name))
    }
}

extension Consumer: ConsumerHandle {
    var partition: Int { self.subscription.partition }

    private func loadedTopic() throws(BrokerError) -> Topic {
        guard let topic = self.topic else { throw BrokerError(.serviceNotReady, "the topic was closed; retry") }
        return topic
    }

    func flow(permits: Int) { self.topic?.flow(self, permits: permits) }

    func ack(_ messages: [AckedMessage], cumulative: Bool, completion: @escaping @Sendable (BrokerError?) -> Void) {
        self.topic?.ack(self, messages, cumulative: cumulative, completion: completion)
    }

    func redeliver(_ positions: [Position]) { self.topic?.redeliver(self, positions: positions) }

    func release() { self.topic?.onLoop { $0.removeConsumer(self) } }

    func subscribed() { self.topic?.onLoop { _ in self.subscription.announceActiveConsumer() } }

    func unsubscribe() async throws { try await self.topic?.unsubscribe(self) }

    func seek(_ request: Pulsar_Proto_CommandSeek) async throws { try await self.loadedTopic().seek(self, request) }

    func lastMessage() async throws -> LastMessage { try await self.loadedTopic().lastMessage(for: self) }

    func stats() async throws -> ConsumerStats { try await self.loadedTopic().stats(of: self) }
}
