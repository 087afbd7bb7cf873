@testable import Broker
import BookieWire
import Codec
import LedgerTesting
import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Testing

extension TopicDispatchTests {
    /// A topic whose broker lost its ownership gives its managed ledger up at once,
    /// writing nothing: its next owner (this broker again, perhaps) fences and recovers
    /// the last ledger. Before, it closed the ledger, waiting for appends held up by a
    /// stuck bookie (19 s in a fault run) while the topic could not be loaded again here.
    @Test func aTopicThatLostItsOwnershipDoesNotWaitForItsAppends() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(3)
        for bookie in harness.cluster.bookies {
            bookie.setFault { (request: BookieRequest.Body) -> BookieFault? in
                if case .add = request { return .hold }
                return nil
            }
        }
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.sequenceID = 3
        metadata.publishTime = 4
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = 1
        command.send.sequenceID = 3
        var frame = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: ByteBuffer(string: "held"), into: &frame)
        var decoder = PulsarFrameDecoder()
        let payload = try #require(try decoder.decode(buffer: &frame)?.payload)
        harness.topic.publish(harness.producer, payload, sequenceIDs: 3...3) { _ in }
        try await Task.sleep(for: .milliseconds(100))
        await harness.topic.close(.ownershipLost)
        let closed = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await harness.topic.waitUntilClosed()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return false
            }
            let first = await group.next()!
            // The held append is let go either way, so that a close waiting for it ends.
            for bookie in harness.cluster.bookies {
                bookie.setFault(nil)
                bookie.releaseHeld()
            }
            group.cancelAll()
            return first
        }
        #expect(closed, "the topic waited for an append held by the bookies")

        // The next owner finds every confirmed entry.
        let ledger = try await ManagedLedger.open(
            name: "t/ns/persistent/dispatch", client: harness.cluster.client(), metadata: harness.cluster.metadata, configuration: ManagedLedgerConfiguration()
        )
        let next = Topic(name: try TopicName("persistent://t/ns/dispatch"), ledger: ledger, compression: .none, logger: Logger(label: "test"))
        #expect(await ledger.lastConfirmed >= positions[2])
        await next.closeAndWait(.shutdown)
        await harness.cluster.shutdown()
    }
}
