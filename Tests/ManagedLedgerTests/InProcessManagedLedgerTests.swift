import ClusterTesting
import Foundation
import Ledger
import LedgerTesting
import ManagedLedger
import Metadata
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Managed ledgers on in-process bookies: the rollover and ownership races of the process
/// tests, in milliseconds.
@Suite("Managed ledgers on in-process bookies", .timeLimit(.minutes(1)))
struct InProcessManagedLedgerTests {
    /// The metadata store fails while a rollover is due: the appends queued for it fail,
    /// and later ones too until the log is reopened, which then holds every entry once, in
    /// the order sent. (In-process counterpart of
    /// `afterAFailedAppendNothingLaterIsStoredUntilReopened`.)
    @Test func afterAFailedRolloverNothingLaterIsStoredUntilReopened() async throws {
        let cluster = try await InProcessCluster.start(bookies: 3)
        do {
            let name = "public/default/persistent/in-process-failed-rollover"
            let faulty = UnwritableMetadataStore(cluster.metadata)
            let client = LedgerClient(metadata: faulty, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(50)), transport: cluster.transports)
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 10, cursorPersistInterval: .seconds(3600))
            let ledger = try await ManagedLedger.open(name: name, client: client, metadata: faulty, configuration: configuration)
            #expect(await appendAll(ledger, 0..<10).allSatisfy { (try? $0.1.get()) != nil })

            faulty.failWrites = true
            #expect(await appendAll(ledger, 10..<15).allSatisfy { (try? $0.1.get()) == nil })
            faulty.failWrites = false
            #expect(await ledger.isFenced)
            let after = await appendAll(ledger, 15..<20)
            #expect(after.allSatisfy { (try? $0.1.get()) == nil }, "appends after a failed one were stored")
            try? await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: client, metadata: faulty, configuration: configuration)
            #expect(await appendAll(reopened, 10..<20).allSatisfy { (try? $0.1.get()) != nil })
            let entries = try await readAll(reopened, from: await reopened.firstPosition, chunk: 50)
            #expect(entries.map(\.1) == (0..<20).map { payload($0) })
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.shutdown()
    }

    /// A broker dies while appending to a 2/2/2 log (its event loop frozen in a
    /// completion), and a bookie of the ensemble goes down: another broker still opens the
    /// log, and every entry the first confirmed reads back in order; the first, thawed, is
    /// fenced. (In-process counterpart of `aLogReopensWithABookieOfItsEnsembleDown`.)
    @Test func aLogReopensWithABookieOfItsEnsembleDown() async throws {
        let cluster = try await InProcessCluster.start(bookies: 3)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = ThreadGate()
        let ownerClient = cluster.client(eventLoop: group.next())
        do {
            let name = "public/default/persistent/in-process-bookie-down"
            let configuration = ManagedLedgerConfiguration(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
            let first = try await ManagedLedger.open(name: name, client: ownerClient, metadata: cluster.metadata, configuration: configuration)
            let current = try #require(await first.ledgers.last).id
            let ensemble = try await cluster.client().readMetadata(current).0.ensembles[0].bookies
            let confirmed = Mutex<[Int: Position]>([:])
            for index in 0..<400 {
                first.append(payload(index)) { result in
                    guard case .success(let position) = result else { return }
                    confirmed.withLock { $0[index] = position }
                    if index == 199 { gate.hold() }
                }
            }
            try await gate.waitUntilHolding()
            cluster.bookie(ensemble[1]).isDown = true

            let second = try await ManagedLedger.open(name: name, client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
            let positions = confirmed.withLock { $0 }
            #expect(positions.count == 200)
            let entries = try await readAll(second, from: await second.firstPosition, chunk: 100)
            #expect(entries.count >= 200)
            #expect(entries.prefix(200).map(\.0) == (0..<200).compactMap { positions[$0] })
            #expect(entries.map(\.1) == (0..<entries.count).map { payload($0) })
            try await second.close()
            gate.open()
            _ = try? await withDeadline(.seconds(10), "closing the old owner") { try await first.close() }
        } catch {
            Issue.record("\(error)")
        }
        gate.open()
        await ownerClient.close()
        await cluster.shutdown()
    }
}
