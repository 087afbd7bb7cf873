@testable import Broker
import BookieWire
import Codec
import LedgerTesting
import Logging
import ManagedLedger
import NIOCore
import PulsarWire
import Testing

extension TopicDispatchTests {
    /// A topic being unloaded whose ledger cannot close (an append held by every bookie,
    /// no replacement to be had) gives the ledger up after its close limit: the unload
    /// ends, and the next owner recovers the ledger with every confirmed entry. Before, the
    /// close waited for the append for ever, and so did the unload (its bundle answered
    /// "being unloaded" to every lookup).
    @Test func anUnloadDoesNotWaitForEverForALedgerThatCannotClose() async throws {
        let cluster = try await InProcessCluster.start(bookies: 3)
        var configuration = ManagedLedgerConfiguration()
        (configuration.ensembleSize, configuration.writeQuorum, configuration.ackQuorum) = (3, 2, 2)
        let ledger = try await ManagedLedger.open(name: "t/ns/persistent/stuck", client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
        let topic = Topic(
            name: try TopicName("persistent://t/ns/stuck"), ledger: ledger, compression: .none, logger: Logger(label: "test"),
            ledgerCloseLimit: .milliseconds(500)
        )
        let confirmed = try await ledger.append(ByteBuffer(string: "confirmed"))
        for bookie in cluster.bookies {
            bookie.setFault { (request: BookieRequest.Body) -> BookieFault? in
                if case .add = request { return .hold }
                return nil
            }
        }
        ledger.append(ByteBuffer(string: "held")) { _ in }
        try await Task.sleep(for: .milliseconds(100))
        let closed = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await topic.closeAndWait(.unloaded)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return false
            }
            let first = await group.next()!
            // The held append is let go either way, so that a close waiting for it ends.
            for bookie in cluster.bookies {
                bookie.setFault(nil)
                bookie.releaseHeld()
            }
            group.cancelAll()
            return first
        }
        #expect(closed, "the unload waited for an append held by the bookies")

        let next = try await ManagedLedger.open(name: "t/ns/persistent/stuck", client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
        #expect(await next.lastConfirmed >= confirmed)
        try await next.close()
        await cluster.shutdown()
    }
}
