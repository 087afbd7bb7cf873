import Ledger
import LedgerTesting
import Synchronization
import Testing

extension InProcessRecoveryTests {
    /// Two bookies of a 3/3/2 ledger's ensemble go down in turn, and no other bookie exists
    /// to replace them: adds wait. Once both are back (out of quarantine), the writer sends
    /// them their adds again where they are, and every add is confirmed, in order.
    /// (Before, it only ever looked for replacements outside the ensemble, found none, and
    /// the adds waited for ever: a fault run's topic took no message after every fault was
    /// healed.)
    @Test func addsWaitingForFailedBookiesGoOnWhenTheyAreBack() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let configuration = LedgerClient.Configuration(requestTimeout: .seconds(1), quarantineTime: .milliseconds(200), speculativeReadTimeout: .milliseconds(20))
            let writer = try await cluster.client(configuration: configuration).createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 5, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            cluster.bookie(ensemble[0]).isDown = true
            #expect(await appendMany(writer, count: 2, inFlight: 1, startingAt: 5).allSatisfy { (try? $0.get()) != nil }, "two of three still confirm")
            cluster.bookie(ensemble[1]).isDown = true
            let confirmed = Mutex<[Int64]>([])
            let waiting = Task { await appendMany(writer, count: 3, inFlight: 3, startingAt: 7) { id in confirmed.withLock { $0.append(id) } } }
            try await Task.sleep(for: .milliseconds(800))
            #expect(confirmed.withLock { $0 }.isEmpty, "confirmed with one bookie of an ack quorum of two")
            cluster.bookie(ensemble[0]).isDown = false
            cluster.bookie(ensemble[1]).isDown = false
            let deadline = ContinuousClock.now + .seconds(10)
            while confirmed.withLock({ $0.count }) < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(confirmed.withLock { $0 } == [7, 8, 9], "the adds waiting went on once their bookies were back")
            if confirmed.withLock({ $0.count }) == 3 {
                #expect(await waiting.value.allSatisfy { (try? $0.get()) != nil })
                #expect(await writer.currentMetadata.ensembles.map(\.bookies) == [ensemble], "no bookie was replaced")
                try await writer.close()
            } else {
                waiting.cancel()
            }
        }
    }
}
