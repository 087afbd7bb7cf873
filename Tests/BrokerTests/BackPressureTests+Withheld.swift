@testable import Broker
import Codec
import LedgerTesting
import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization
import Testing

extension BackPressureTests {
    /// A message stored after the broker's ownership of its topic lapsed is answered with
    /// nothing, but its completion still comes (as `withheld`), so the connection's count
    /// of SENDs awaiting receipts does not keep it forever.
    @Test func aMessageStoredAfterOwnershipLapsedStillCompletes() async throws {
        let cluster = try await InProcessCluster.start(bookies: 2)
        let serving = Atomic(true)
        let ledger = try await ManagedLedger.open(
            name: "t/ns/persistent/withheld", client: cluster.client(), metadata: cluster.metadata,
            configuration: ManagedLedgerConfiguration(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
        )
        let topic = Topic(
            name: try TopicName("persistent://t/ns/withheld"), ledger: ledger, compression: .none, logger: Logger(label: "test"),
            mayServe: { serving.load(ordering: .relaxed) }
        )
        let (producer, _) = try await topic.addProducer(
            name: "p", accessMode: .shared, connection: ObjectIdentifier(cluster), producerID: 1, requestID: 1, brokerName: "b",
            sink: TopicDispatchTests.RecordingSink()
        )
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.sequenceID = 0
        metadata.publishTime = 1
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = 1
        command.send.sequenceID = 0
        var frame = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: ByteBuffer(string: "m"), into: &frame)
        var decoder = PulsarFrameDecoder()
        let payload = try #require(try decoder.decode(buffer: &frame)?.payload)
        serving.store(false, ordering: .relaxed)
        let result = await withCheckedContinuation { continuation in
            topic.publish(producer, payload, sequenceIDs: 0...0) { continuation.resume(returning: $0) }
        }
        guard case .failure(let error) = result else {
            Issue.record("a message stored after the ownership lapsed was receipted")
            return
        }
        #expect(error.code == .withheld)
        await topic.closeAndWait(.shutdown)
        await cluster.shutdown()
    }
}
