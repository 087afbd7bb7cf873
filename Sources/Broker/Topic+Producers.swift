import ManagedLedger
import PulsarProto

extension Topic {
    /// Registers a producer under its access mode; returns it and whether it is ready.
    ///
    /// - Shared joins unless an exclusive producer holds the topic.
    /// - Exclusive needs the topic to have no producer.
    /// - WaitForExclusive is queued while other producers exist and let in, in order,
    ///   when the last one leaves (``ProducerSink/producerReady(_:)``).
    /// - ExclusiveWithFencing closes every other producer and takes the topic.
    ///
    /// The same connection asking again for the same producer id gets the producer it has.
    func addProducer(
        name requested: String?,
        accessMode: Pulsar_Proto_ProducerAccessMode,
        connection: ObjectIdentifier,
        producerID: UInt64,
        requestID: UInt64,
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
        let name: String
        if let requested {
            name = requested
        } else {
            self.producerCounter += 1
            name = Producer.generatedName(broker: brokerName, number: self.producerCounter)
        }
        let producer = Producer(
            topic: self, name: name, producerID: producerID, requestID: requestID, connection: connection, exclusive: accessMode != .shared, sink: sink
        )
        switch accessMode {
        case .exclusive:
            if !self.producers.isEmpty {
                throw BrokerError(.producerFenced, "\(self.name) already has a producer; an exclusive one cannot join")
            }
        case .waitForExclusive:
            if !self.producers.isEmpty {
                self.waiting.append(producer)
                return (producer, false)
            }
        case .exclusiveWithFencing:
            let others = self.producers.values
            self.producers.removeAll()
            for other in others where other.markClosed() { other.sink.producerClosed(other) }
        default:
            if self.producers.values.contains(where: \.exclusive) {
                throw BrokerError(.producerFenced, "\(self.name) has an exclusive producer")
            }
        }
        self.producers[name] = producer
        return (producer, true)
    }

    /// A producer left (closed, fenced or disconnected): when the topic is now free, the
    /// first waiting exclusive producer gets it.
    func removeProducer(_ producer: Producer) {
        _ = producer.markClosed()
        if self.producers[producer.name] === producer { self.producers[producer.name] = nil }
        self.waiting.removeAll { $0 === producer }
        if self.producers.isEmpty, !self.waiting.isEmpty {
            let next = self.waiting.removeFirst()
            self.producers[next.name] = next
            next.sink.producerReady(next)
        }
        self.noteIfIdle()
    }
}
