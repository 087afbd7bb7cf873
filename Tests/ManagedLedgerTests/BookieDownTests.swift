import ClusterTesting
import Foundation
import Ledger
import ManagedLedger
import Metadata
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite("Managed ledgers with a bookie down", .timeLimit(.minutes(3)))
struct BookieDownTests {
    /// A broker dies while appending to a 2/2/2 log (its event loop frozen at once, as a
    /// SIGKILL stops it), and a bookie of the ensemble dies too: another broker still
    /// opens the log, and every entry the first confirmed reads back in order.
    @Test func aLogReopensWithABookieOfItsEnsembleDown() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-bookie-down")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = ThreadGate()
        let ownerClient = LedgerClient(
            metadata: cluster.metadata, eventLoop: group.next(),
            configuration: .init(requestTimeout: .seconds(10), speculativeReadTimeout: .milliseconds(200))
        )
        do {
            let name = "public/default/persistent/bookie-down"
            let configuration = ManagedLedgerConfiguration(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
            let first = try await ManagedLedger.open(name: name, client: ownerClient, metadata: cluster.metadata, configuration: configuration)
            let current = try #require(await first.ledgers.last).id
            let ensemble = try await cluster.client.readMetadata(current).0.ensembles[0].bookies
            let confirmed = Mutex<[Int: Position]>([:])
            for index in 0..<2000 {
                first.append(payload(index)) { result in
                    guard case .success(let position) = result else { return }
                    confirmed.withLock { $0[index] = position }
                    if index == 999 { gate.hold() }
                }
            }
            try await gate.waitUntilHolding()
            cluster.bookies.kill(cluster.bookies.ids.firstIndex(of: ensemble[1])!)

            let second = try await withDeadline(.seconds(60), "reopening the log") {
                try await ManagedLedger.open(name: name, client: cluster.otherClient(), metadata: cluster.metadata, configuration: configuration)
            }
            let positions = confirmed.withLock { $0 }
            #expect(positions.count == 1000)
            let entries = try await readAll(second, from: await second.firstPosition, chunk: 250)
            #expect(entries.count >= 1000)
            #expect(entries.prefix(1000).map(\.0) == (0..<1000).compactMap { positions[$0] })
            #expect(entries.map(\.1) == (0..<entries.count).map { payload($0) })
            try await second.close()
            gate.open()
            // The old owner, thawed, is fenced; closing it stops its timer.
            _ = try? await withDeadline(.seconds(30), "closing the old owner") { try await first.close() }
        } catch {
            Issue.record("\(error)")
        }
        gate.open()
        await ownerClient.close()
        // The loop is left running until the test process exits: the thawed owner goes on
        // with work it had started, which must not find its loop shut down.
        await cluster.stop()
    }
}
