@testable import Broker
import LedgerTesting
import ManagedLedger
import NIOCore
import PulsarProto
import Testing

extension TopicDispatchTests {
    /// A terminated topic takes no more messages (nor producers), stays terminated for
    /// its next owner, and tells each consumer when it has read everything.
    @Test func aTerminatedTopicEndsForItsConsumers() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(3)
        let last = try await harness.topic.ledger.terminate()
        #expect(last == positions[2])
        #expect(try await harness.topic.ledger.terminate() == last, "terminating again answers the same")
        await #expect(throws: BrokerError.self) { try await harness.publish(1) }
        await #expect(throws: BrokerError.self) {
            _ = try await harness.topic.addProducer(
                name: "q", accessMode: .shared, connection: ObjectIdentifier(harness.cluster), producerID: 2, requestID: 2, brokerName: "b",
                sink: RecordingSink()
            )
        }
        let sink = RecordingSink()
        let consumer = try await harness.subscribe(1, sink)
        harness.topic.flow(consumer, permits: 10)
        try await Self.waitFor("the end of the topic") { sink.ended == [1] }
        #expect(sink.deliveries.map(\.position) == positions)
        #expect(!harness.topic.isClosed, "a refused send does not close the topic")
        await harness.topic.closeAndWait(.shutdown)

        // The next owner finds the log terminated.
        let reopened = try await ManagedLedger.open(
            name: "t/ns/persistent/dispatch", client: harness.cluster.client(), metadata: harness.cluster.metadata, configuration: ManagedLedgerConfiguration()
        )
        #expect(await reopened.isTerminated)
        await #expect(throws: ManagedLedgerError.self) { _ = try await reopened.append(ByteBuffer(string: "late")) }
        try await reopened.close()
        await harness.cluster.shutdown()
    }
}
