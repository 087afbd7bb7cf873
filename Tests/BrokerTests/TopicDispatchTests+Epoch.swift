@testable import Broker
import Codec
import LedgerTesting
import Logging
import ManagedLedger
import PulsarProto
import PulsarWire
import Testing

extension TopicDispatchTests {
    /// A producer fenced by an ExclusiveWithFencing one stays fenced after the topic
    /// moves (here: is closed and loaded again over the same log), as in Pulsar, where the
    /// topic epoch is kept with the managed ledger: the next owner refuses its old epoch.
    @Test func aFencedProducerStaysFencedOnTheTopicsNextOwner() async throws {
        let harness = try await Harness.make()
        let connection = ObjectIdentifier(harness.cluster)
        let first = try await harness.topic.addProducer(
            name: "first", accessMode: .exclusiveWithFencing, connection: connection, producerID: 10, requestID: 10, brokerName: "b", sink: RecordingSink()
        ).producer
        try await harness.topic.storeEpoch(of: first)
        let fencer = try await harness.topic.addProducer(
            name: "fencer", accessMode: .exclusiveWithFencing, connection: connection, producerID: 11, requestID: 11, brokerName: "b", sink: RecordingSink()
        ).producer
        try await harness.topic.storeEpoch(of: fencer)
        #expect(first.topicEpoch == 0 && fencer.topicEpoch == 1)
        #expect(first.isClosed)
        await harness.topic.closeAndWait(.shutdown)

        let ledger = try await ManagedLedger.open(
            name: "t/ns/persistent/dispatch", client: harness.cluster.client(), metadata: harness.cluster.metadata, configuration: ManagedLedgerConfiguration()
        )
        let next = Topic(name: try TopicName("persistent://t/ns/dispatch"), ledger: ledger, compression: .none, logger: Logger(label: "test"))
        await #expect(throws: BrokerError.self) {
            _ = try await next.addProducer(
                name: "first", accessMode: .exclusive, connection: connection, producerID: 12, requestID: 12, topicEpoch: 0, brokerName: "b",
                sink: RecordingSink()
            )
        }
        // The fencer comes back with its epoch; a new exclusive producer after it gets the next.
        let back = try await next.addProducer(
            name: "fencer", accessMode: .exclusive, connection: connection, producerID: 13, requestID: 13, topicEpoch: 1, brokerName: "b", sink: RecordingSink()
        ).producer
        #expect(back.topicEpoch == 1)
        await next.removeProducer(back)
        let later = try await next.addProducer(
            name: "later", accessMode: .exclusive, connection: connection, producerID: 14, requestID: 14, brokerName: "b", sink: RecordingSink()
        ).producer
        #expect(later.topicEpoch == 2)
        await next.closeAndWait(.shutdown)
        await harness.cluster.shutdown()
    }
}
