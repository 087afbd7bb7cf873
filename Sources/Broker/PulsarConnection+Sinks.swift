import ManagedLedger
import NIOCore
import PulsarProto

/// A connection is the sink of its producers and consumers: what their topics report is
/// framed here and queued in the outbox.
extension PulsarConnection: ProducerSink, ConsumerSink {
    func producerReady(_ producer: Producer) {
        self.start { await self.announceReady(producer) }
    }

    func producerClosed(_ producer: Producer) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .closeProducer
        command.closeProducer.producerID = producer.producerID
        command.closeProducer.requestID = 0
        self.sendOnLoop(command, ifForgotten: { $0.producerClosedByBroker(producer.producerID, where: { $0 === producer }) })
    }

    /// Sends `command` from the connection's loop if `forget` (run there) says the state
    /// machine had the producer or consumer it closes registered: a close is thus queued
    /// after the success that registered it, and not at all for one being created.
    private func sendOnLoop(_ command: Pulsar_Proto_BaseCommand, ifForgotten forget: @escaping @Sendable (inout Machine) -> Bool) {
        self.eventLoop.execute {
            if forget(&self.machine) { self.send(command) }
        }
    }

    func deliver(_ consumer: any ConsumerHandle, _ position: Position, entry: ByteBuffer, redeliveryCount: UInt32, ackSet: [Int64]?) {
        var stored = entry
        guard let (_, checksum) = stored.readMultipleIntegers(as: (UInt16, UInt32).self) else { return }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .message
        command.message.consumerID = consumer.consumerID
        command.message.messageID.ledgerID = UInt64(bitPattern: position.ledgerID)
        command.message.messageID.entryID = UInt64(bitPattern: position.entryID)
        command.message.messageID.partition = Int32(consumer.partition)
        if redeliveryCount > 0 { command.message.redeliveryCount = redeliveryCount }
        if let ackSet { command.message.ackSet = ackSet }
        self.outbox.enqueue(command, metadataAndPayload: stored, checksum: checksum)
    }

    func flush() {
        self.outbox.flush()
    }

    func activeChanged(_ consumer: any ConsumerHandle, active: Bool) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .activeConsumerChange
        command.activeConsumerChange.consumerID = consumer.consumerID
        command.activeConsumerChange.isActive = active
        self.outbox.enqueue(command)
    }

    /// The notice is queued at once (a seek's SUCCESS, queued after, must follow it); the
    /// machine forgets the consumer on the connection's loop.
    func reachedEndOfTopic(_ consumer: any ConsumerHandle) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .reachedEndOfTopic
        command.reachedEndOfTopic.consumerID = consumer.consumerID
        self.send(command)
    }

    /// Told on the connection's loop, and only for a consumer registered there: one still
    /// being created hears it after its SUCCESS (``subscribe(_:)`` looks again then).
    func consumerClosed(_ consumer: any ConsumerHandle) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .closeConsumer
        command.closeConsumer.consumerID = consumer.consumerID
        command.closeConsumer.requestID = 0
        self.sendOnLoop(command, ifForgotten: { $0.consumerClosedByBroker(consumer.consumerID, where: { $0 === consumer }) })
    }
}
