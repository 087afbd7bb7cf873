import ClusterTesting
import Ledger
import Metadata
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A ledger client on an event loop of its own, which a test can freeze from inside a
/// completion: from then on nothing leaves it and nothing it receives is handled, as when
/// its broker is SIGKILLed or SIGSTOPped at that instant, while the test goes on.
struct FreezableClient {
    let group: MultiThreadedEventLoopGroup
    let client: LedgerClient
    let gate = ThreadGate()

    init(metadata: any MetadataStore, requestTimeout: Duration) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.client = LedgerClient(
            metadata: metadata, eventLoop: self.group.next(),
            configuration: .init(requestTimeout: requestTimeout, speculativeReadTimeout: .milliseconds(200))
        )
    }

    /// Creates a 2/2/2 ledger and appends to it with 256 adds in flight until entry `last`
    /// is confirmed, and freezes the client in that entry's completion. The bookies then
    /// hold entries past the LAC they were told (every add carries the LAC of its send,
    /// lower than `last`), and some past `last`. Returns the writer, its ensemble, and the
    /// appends, which finish once the client is thawed.
    func writeUntilFrozen(last: Int64) async throws -> (LedgerWriter, [String], Task<[Result<Int64, LedgerError>], Never>) {
        let writer = try await self.client.createLedger(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
        let ensemble = await writer.currentMetadata.ensembles[0].bookies
        let gate = self.gate
        let writing = Task {
            await appendMany(writer, count: Int(last) + 1000, inFlight: 256) { id in
                if id == last { gate.hold() }
            }
        }
        try await gate.waitUntilHolding()
        return (writer, ensemble, writing)
    }

    /// Thaws the client and closes its connections. The loop is left running until the
    /// test process exits: a thawed writer goes on with work it had started (an ensemble
    /// change, say), which must not find its loop shut down.
    func shutdown() async {
        self.gate.open()
        await self.client.close()
    }
}

@Suite("Recovery with a bookie down or hung", .timeLimit(.minutes(3)))
struct RecoveryTests {
    /// 2/2/2 over three bookies: the writer's broker dies, and so does a bookie of the
    /// ensemble. Recovery finds confirmed entries on one bookie only, writes them to the
    /// third bookie through an ensemble change, and closes; every confirmed entry reads
    /// back from the closed ledger.
    @Test func recoveryReplacesADeadBookieOfA222Ensemble() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "recovery-bookie-down")
        let owner = FreezableClient(metadata: cluster.metadata, requestTimeout: .seconds(10))
        do {
            let (writer, ensemble, writing) = try await owner.writeUntilFrozen(last: 999)
            let victim = ensemble[1]
            cluster.bookies.kill(cluster.index(of: victim))

            let recovered = try await withDeadline(.seconds(60), "recovery") { try await cluster.otherClient().recoverLedger(writer.ledgerID) }
            #expect(recovered.lastAddConfirmed >= 999, "closed at \(recovered.lastAddConfirmed); entry 999 was confirmed")
            let ensembles = recovered.metadata.ensembles
            #expect(ensembles.count == 2 && ensembles[1].firstEntryID <= 999, "the unconfirmed tail went to a new ensemble: \(ensembles)")
            #expect(ensembles.last.map { !$0.bookies.contains(victim) && $0.bookies.count == 2 } ?? false, "\(ensembles)")
            let last = recovered.lastAddConfirmed
            #expect(try await recovered.read(from: 0, through: last) == (0...last).map { LedgerCluster.payload($0) })
            let again = try await cluster.otherClient().recoverLedger(writer.ledgerID)
            #expect(again.lastAddConfirmed == last && again.metadata == recovered.metadata)

            // Thawed, the old writer may complete adds the bookies took before the fence;
            // every one of them is in the closed ledger.
            owner.gate.open()
            let results = await writing.value
            let confirmed = results.compactMap { try? $0.get() }
            #expect(confirmed.max() ?? -1 <= last, "the writer confirmed up to \(confirmed.max() ?? -1), the ledger closed at \(last)")
            #expect(confirmed.count < results.count, "the writer was fenced")
        } catch {
            Issue.record("\(error)")
        }
        await owner.shutdown()
        await cluster.stop()
    }

    /// A frozen (SIGSTOP) bookie of the ensemble answers nothing: recovery decides each
    /// step from the bookies that did answer and replaces the frozen one, instead of
    /// waiting for its requests to time out.
    @Test func aHungBookieCostsRecoveryNoTimeout() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "recovery-bookie-hung")
        let owner = FreezableClient(metadata: cluster.metadata, requestTimeout: .seconds(10))
        var paused: Int?
        do {
            let (writer, ensemble, writing) = try await owner.writeUntilFrozen(last: 499)
            paused = cluster.index(of: ensemble[0])
            cluster.bookies.pause(paused!)

            let timeout = Duration.seconds(20)
            let patient = cluster.otherClient(requestTimeout: timeout)
            let start = ContinuousClock.now
            let recovered = try await withDeadline(.seconds(70), "recovery with a frozen bookie") { try await patient.recoverLedger(writer.ledgerID) }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < timeout, "recovery took \(elapsed); a bookie request times out after \(timeout)")
            #expect(recovered.lastAddConfirmed >= 499)
            #expect(recovered.metadata.ensembles.last.map { !$0.bookies.contains(ensemble[0]) } ?? false, "\(recovered.metadata.ensembles)")

            cluster.bookies.resume(paused!)
            paused = nil
            let last = recovered.lastAddConfirmed
            #expect(try await recovered.read(from: 0, through: last) == (0...last).map { LedgerCluster.payload($0) })
            owner.gate.open()
            #expect(await writing.value.compactMap { try? $0.get() }.allSatisfy { $0 <= last })
        } catch {
            Issue.record("\(error)")
        }
        if let paused { cluster.bookies.resume(paused) }
        await owner.shutdown()
        await cluster.stop()
    }
}
