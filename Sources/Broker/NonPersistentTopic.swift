import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// A `non-persistent://` topic: each message goes at once to the consumers connected at
/// that moment, and is kept nowhere. A subscription whose consumers have no permits (or
/// that has none) misses the message, which is counted as dropped, as in Pulsar. Its
/// subscriptions live while they have consumers; the topic lives while it has producers
/// or consumers.
///
/// Like ``Topic`` it lives on one event loop, its actor's executor; producers and
/// consumers are confined to it. Message ids count the messages published since the
/// topic was made: ledger 0 (non-persistent messages are stored in no ledger), entry n.
actor NonPersistentTopic: PublishTarget {
    nonisolated let name: TopicName
    nonisolated let eventLoop: any EventLoop
    nonisolated let logger: Logger
    var producers: [String: Producer] = [:]
    var subscriptions: [String: VolatileSubscription] = [:]
    private var producerCounter = 0
    private var published: Int64 = 0
    /// What was published and delivered, for stats.
    nonisolated let counters = TrafficCounters()
    /// Messages no consumer of a subscription could take.
    private(set) var dropped = 0
    private nonisolated let closedFlag = Atomic<Bool>(false)
    /// Told once the topic has no producer and no consumer left, or was closed.
    nonisolated let onEmpty: @Sendable (NonPersistentTopic) -> Void

    init(name: TopicName, eventLoop: any EventLoop, logger: Logger, onEmpty: @escaping @Sendable (NonPersistentTopic) -> Void) {
        self.name = name
        self.eventLoop = eventLoop
        self.logger = logger
        self.onEmpty = onEmpty
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor { self.eventLoop.executor.asUnownedSerialExecutor() }

    nonisolated var isClosed: Bool { self.closedFlag.load(ordering: .sequentiallyConsistent) }

    /// Runs `body` isolated to the topic, at once when called on its loop.
    nonisolated func onLoop(_ body: @escaping @Sendable (isolated NonPersistentTopic) -> Void) {
        if self.eventLoop.inEventLoop {
            self.assumeIsolated(body)
        } else {
            self.eventLoop.execute { self.assumeIsolated(body) }
        }
    }

    // MARK: Producers

    /// Registers a producer; a name already connected is refused.
    func addProducer(name requested: String?, producerID: UInt64, requestID: UInt64, connection: ObjectIdentifier, brokerName: String, sink: any ProducerSink)
        throws(BrokerError) -> Producer
    {
        guard !self.isClosed else { throw BrokerError(.serviceNotReady, "\(self.name) is closing; retry") }
        if let requested, let live = self.producers[requested] {
            if live.connection == connection && live.producerID == producerID { return live }
            throw BrokerError(.producerBusy, "producer \(requested) is already connected to \(self.name)")
        }
        let name: String
        if let requested {
            name = requested
        } else {
            self.producerCounter += 1
            name = Producer.generatedName(broker: brokerName, number: self.producerCounter)
        }
        let producer = Producer(
            topic: self, name: name, producerID: producerID, requestID: requestID, connection: connection, exclusive: false, sink: sink
        )
        self.producers[name] = producer
        return producer
    }

    nonisolated func release(_ producer: Producer) {
        self.onLoop { $0.removeProducer(producer) }
    }

    /// Every producer of a non-persistent topic publishes at once (Shared access), and
    /// none has a sequence id stored.
    func admission(of producer: Producer) -> (ready: Bool, lastSequenceID: Int64) { (true, -1) }

    /// Non-persistent topics have no exclusive producers, so no epoch.
    func storeEpoch(of producer: Producer) throws(BrokerError) {}

    func removeProducer(_ producer: Producer) {
        _ = producer.markClosed()
        if self.producers[producer.name] === producer { self.producers[producer.name] = nil }
        self.noteIfEmpty()
    }

    /// Hands the message to each subscription's consumers now and answers at once.
    nonisolated func publish(_ producer: Producer, _ payload: PulsarPayload, sequenceIDs: ClosedRange<Int64>, completion: @escaping Topic.PublishCompletion) {
        self.onLoop { $0.dispatch(producer, payload, completion: completion) }
    }

    private func dispatch(_ producer: Producer, _ payload: PulsarPayload, completion: @escaping Topic.PublishCompletion) {
        guard !producer.isClosed, !self.isClosed else {
            return completion(.failure(BrokerError(.serviceNotReady, "producer \(producer.name) of \(self.name) was closed; reconnect")))
        }
        let position = Position(ledgerID: 0, entryID: self.published)
        self.published += 1
        let entry = StoredEntry.encode(payload)
        let facts = EntryFacts(entry)
        self.counters.recordIn(messages: facts.messages, bytes: entry.readableBytes)
        producer.counters.recordIn(messages: facts.messages, bytes: entry.readableBytes)
        for subscription in self.subscriptions.values {
            if subscription.deliver(position, entry, facts) {
                self.counters.recordOut(messages: facts.messages, bytes: entry.readableBytes)
            } else {
                self.dropped += facts.messages
            }
        }
        completion(.success(position))
    }

    // MARK: Consumers

    /// Adds a consumer to a subscription, made when new (every subscription of a
    /// non-persistent topic is in memory only).
    func subscribe(_ request: SubscribeRequest, sink: any ConsumerSink) throws(BrokerError) -> VolatileConsumer {
        guard !self.isClosed else { throw BrokerError(.serviceNotReady, "\(self.name) is closing; retry") }
        let subscription = self.subscriptions[request.subscription]
            ?? VolatileSubscription(name: request.subscription, type: request.type, partition: self.name.partitionIndex, topic: self)
        let consumer = VolatileConsumer(
            consumerID: request.consumerID, name: request.consumerName, priorityLevel: request.priorityLevel, subscription: subscription, sink: sink
        )
        try subscription.add(consumer, type: request.type)
        self.subscriptions[request.subscription] = subscription
        return consumer
    }

    /// Removes a consumer; a subscription left with none goes.
    func removeConsumer(_ consumer: VolatileConsumer) {
        let subscription = consumer.subscription
        subscription.remove(consumer)
        if subscription.isEmpty, self.subscriptions[subscription.name] === subscription { self.subscriptions[subscription.name] = nil }
        self.noteIfEmpty()
    }

    // MARK: Lifecycle

    /// Closes the topic: producers and consumers are told to reconnect (and look it up
    /// again), and it is forgotten.
    func close() {
        guard !self.closedFlag.exchange(true, ordering: .sequentiallyConsistent) else { return }
        for producer in self.producers.values where producer.markClosed() { producer.sink.producerClosed(producer) }
        self.producers.removeAll()
        for subscription in self.subscriptions.values {
            for consumer in subscription.removeAll() { consumer.sink.consumerClosed(consumer) }
        }
        self.subscriptions.removeAll()
        self.onEmpty(self)
    }

    private func noteIfEmpty() {
        guard self.producers.isEmpty, self.subscriptions.isEmpty, !self.closedFlag.exchange(true, ordering: .sequentiallyConsistent) else { return }
        self.onEmpty(self)
    }

    /// The topic's stats, under Pulsar's names (`msgDropRate` as a count here: `msgDropped`).
    func stats() -> TopicStats {
        let now = ContinuousClock.now
        let (reading, rates) = (self.counters.reading, self.counters.rates(at: now))
        var stats = TopicStats(
            msgRateIn: rates.messagesIn, msgThroughputIn: rates.bytesIn, msgRateOut: rates.messagesOut, msgThroughputOut: rates.bytesOut,
            msgInCounter: reading.messagesIn, bytesInCounter: reading.bytesIn, msgOutCounter: reading.messagesOut, bytesOutCounter: reading.bytesOut
        )
        stats.msgDropped = self.dropped
        stats.publishers = self.producers.values.sorted { $0.producerID < $1.producerID }.map { producer in
            let rates = producer.counters.rates(at: now)
            return TopicStats.PublisherStats(
                producerId: producer.producerID, producerName: producer.name, accessMode: "Shared", msgRateIn: rates.messagesIn,
                msgThroughputIn: rates.bytesIn, averageMsgSize: 0, connectedSince: TopicStats.timestamp(producer.connectedSince)
            )
        }
        for (name, subscription) in self.subscriptions {
            stats.subscriptions[name] = TopicStats.SubscriptionStats(
                type: ConsumerSet<VolatileConsumer>.describe(subscription.type), isDurable: false
            )
            stats.subscriptions[name]?.consumers = subscription.attached.map { consumer in
                TopicStats.SubscriptionStats.ConsumerStats(
                    consumerName: consumer.name, msgRateOut: 0, msgThroughputOut: 0, msgOutCounter: 0, bytesOutCounter: 0,
                    availablePermits: max(0, consumer.permits), unackedMessages: 0, connectedSince: TopicStats.timestamp(consumer.connectedSince)
                )
            }
        }
        return stats
    }
}
