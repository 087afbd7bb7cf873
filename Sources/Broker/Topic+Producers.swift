import ManagedLedger
import PulsarProto

extension Topic {
    /// Registers a producer under its access mode; returns it and whether it is ready.
    ///
    /// - Shared joins unless an exclusive producer holds the topic.
    /// - Exclusive needs the topic to have no producer.
    /// - WaitForExclusive is queued while other producers exist and let in, in order,
    ///   when the last one leaves (``ProducerSink/producerReady(_:)``).
    /// - ExclusiveWithFencing closes every other producer, and those waiting, and takes the
    ///   topic.
    ///
    /// An exclusive producer that takes the topic raises its epoch; one that reconnects
    /// with an earlier epoch than the topic's was fenced meanwhile and is refused, as
    /// Pulsar does. The same connection asking again for the same producer id gets the
    /// producer it has.
    func addProducer(
        name requested: String?,
        accessMode: Pulsar_Proto_ProducerAccessMode,
        connection: ObjectIdentifier,
        producerID: UInt64,
        requestID: UInt64,
        topicEpoch: UInt64? = nil,
        brokerName: String,
        sink: any ProducerSink
    ) throws(BrokerError) -> (producer: Producer, ready: Bool) {
        try self.checkOpen()
        if self.ledger.assumeIsolated({ $0.isTerminated }) { throw BrokerError(.topicTerminated, "\(self.name) is terminated") }
        if let requested, let live = self.producers[requested] ?? self.waiting.first(where: { $0.name == requested }) {
            if live.connection == connection && live.producerID == producerID {
                return (live, self.producers[requested] != nil)
            }
            throw BrokerError(.producerBusy, "producer \(requested) is already connected to \(self.name)")
        }
        if TopicPolicies.Limits.reached(self.producers.count + self.waiting.count, self.policies.limits.producers) {
            throw BrokerError(.producerBusy, "\(self.name) has reached its limit of \(self.policies.limits.producers) producers")
        }
        let name: String
        if let requested {
            name = requested
        } else {
            self.producerCounter += 1
            name = Producer.generatedName(broker: brokerName, number: self.producerCounter)
        }
        let producer = Producer(
            topic: self, name: name, producerID: producerID, requestID: requestID, connection: connection, exclusive: accessMode != .shared,
            requestedEpoch: accessMode == .shared ? nil : topicEpoch, sink: sink
        )
        switch accessMode {
        case .exclusive:
            if !self.producers.isEmpty || !self.waiting.isEmpty {
                throw BrokerError(.producerFenced, "\(self.name) already has a producer; an exclusive one cannot join")
            }
            try self.takeEpoch(producer)
        case .waitForExclusive:
            if !self.producers.isEmpty {
                self.waiting.append(producer)
                return (producer, false)
            }
            try self.takeEpoch(producer)
        case .exclusiveWithFencing:
            let others = Array(self.producers.values) + self.waiting
            self.producers.removeAll()
            self.waiting.removeAll()
            for other in others where other.markClosed() { other.sink.producerClosed(other) }
            try self.takeEpoch(producer)
        default:
            if self.producers.values.contains(where: \.exclusive) {
                throw BrokerError(.producerFenced, "\(self.name) has an exclusive producer")
            }
        }
        self.producers[name] = producer
        return (producer, true)
    }

    /// Whether `producer` holds its place on the topic (a WaitForExclusive one may still
    /// be waiting).
    func isActive(_ producer: Producer) -> Bool {
        self.producers[producer.name] === producer
    }

    /// A producer left (closed, fenced or disconnected): when the topic is now free, the
    /// first waiting exclusive producer gets it.
    func removeProducer(_ producer: Producer) {
        _ = producer.markClosed()
        if self.producers[producer.name] === producer { self.producers[producer.name] = nil }
        self.waiting.removeAll { $0 === producer }
        while self.producers.isEmpty, !self.waiting.isEmpty {
            let next = self.waiting.removeFirst()
            do {
                try self.takeEpoch(next)
            } catch {
                if next.markClosed() { next.sink.producerClosed(next) }
                continue
            }
            self.producers[next.name] = next
            next.sink.producerReady(next)
        }
        self.noteIfIdle()
    }

    /// Gives `producer` the topic's next epoch, or the one it held before when it
    /// reconnects; refuses (`producerFenced`) one whose epoch has passed: another
    /// exclusive producer held the topic in between.
    private func takeEpoch(_ producer: Producer) throws(BrokerError) {
        let current = self.currentEpoch
        if let requested = producer.requestedEpoch, let current, requested < current {
            throw BrokerError(
                .producerFenced, "\(self.name): producer \(producer.name) was fenced: the topic epoch moved to \(current) after its \(requested)"
            )
        }
        if producer.requestedEpoch == nil, let current, current >= UInt64(Int64.max) {
            throw BrokerError(.notAllowed, "\(self.name): the topic epoch \(current) is the last there is; no new exclusive producer can take the topic")
        }
        let epoch = producer.requestedEpoch ?? current.map { $0 + 1 } ?? 0
        self.topicEpoch = epoch
        producer.granted(epoch: epoch)
    }

    /// The epoch of exclusive access: the last one granted here, or, before any was since
    /// the topic loaded, the one its previous owners stored with the managed ledger.
    private var currentEpoch: UInt64? {
        if let epoch = self.topicEpoch { return epoch }
        return self.ledger.assumeIsolated { $0.properties[Self.epochProperty] }.flatMap(Self.storedEpoch)
    }

    /// A stored topic epoch, read as strictly as a PRODUCER's: 0...Int64.max, the largest
    /// epoch stored before that rule held (2^64-1) counting as Int64.max.
    static func storedEpoch(_ text: String) -> UInt64? {
        UInt64(text).map { min($0, UInt64(Int64.max)) }
    }

    /// The managed-ledger property that keeps the topic epoch (as Pulsar's broker names it).
    static let epochProperty = "__topicEpoch"

    /// Stores the epoch `producer` was granted with the managed ledger, unless a later
    /// one is stored already, so that the topic's next owner refuses a producer fenced
    /// here. Its client hears of its epoch only once this returned.
    func storeEpoch(of producer: Producer) async throws(BrokerError) {
        guard let epoch = producer.topicEpoch else { return }
        let key = Self.epochProperty
        do {
            try await self.ledger.updateProperties { properties in
                if let stored = properties[key].flatMap(Self.storedEpoch), stored >= epoch { return }
                properties[key] = String(epoch)
            }
        } catch {
            throw BrokerError(error, "\(self.name): storing the topic epoch of producer \(producer.name)")
        }
    }
}
