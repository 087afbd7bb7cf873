import BookieWire
import ClusterTesting
import Ledger
import LedgerTesting
import Metadata
import NIOCore
import Testing

@Suite("Fencing races on in-process bookies", .timeLimit(.minutes(1)))
struct InProcessFenceRaceTests {
    /// Adds that reach two bookies only after the ledger was fenced are refused there, so
    /// the old writer confirms nothing past the end recovery chose, whichever end that is
    /// (the entries sat on one bookie of three: recovery may keep or drop each).
    @Test func addsArrivingAfterTheFenceAreRefused() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client().createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            let late = ensemble.dropFirst().map { cluster.bookie($0) }
            for bookie in late {
                bookie.setFault { request in
                    guard let add = request.addedEntry, !add.recovery, add.entryID >= 10 else { return nil }
                    return .hold
                }
            }
            let writing = Task { await appendMany(writer, count: 5, inFlight: 5, startingAt: 10) }
            #expect(await waitUntil(timeout: .seconds(5)) { stored(cluster.bookie(ensemble[0]), writer.ledgerID).count == 15 })
            #expect(await writer.lastAddConfirmed == 9)

            let recovered = try await cluster.client().recoverLedger(writer.ledgerID)
            // Each of entries 10...14 is decided by whichever answers come first: one replica
            // has it, two say it is absent. The end is the last entry before the first absent one.
            #expect((9...14).contains(recovered.lastAddConfirmed), "closed at \(recovered.lastAddConfirmed)")
            for bookie in late {
                bookie.setFault(nil)
                bookie.releaseHeld()
            }
            let results = await writing.value
            let confirmed = results.compactMap { try? $0.get() }
            #expect(confirmed.isEmpty, "the old writer confirmed \(confirmed) after the fence")
            #expect(results.allSatisfy { if case .failure(let error) = $0 { error.code == .fenced } else { false } }, "\(results)")
            let reader = try await cluster.client().openLedger(writer.ledgerID)
            #expect(reader.lastAddConfirmed == recovered.lastAddConfirmed)
            let last = recovered.lastAddConfirmed
            #expect(try await reader.read(from: 0, through: last) == (0...last).map { LedgerCluster.payload($0) })
        }
    }

    /// Recovery racing a busy writer, 30 rounds at random moments: no entry the old writer
    /// saw confirmed lies past the end the recoverer closed the ledger at. (In-process
    /// counterpart of `noEntryConfirmedByTheOldWriterLiesPastTheClosedEnd`, without its
    /// slow journal syncs.)
    @Test func noEntryConfirmedByTheOldWriterLiesPastTheClosedEnd() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writerClient = cluster.client()
            let recoveryClient = cluster.client()
            var confirmedInAll = 0
            for round in 0..<30 {
                let writer = try await writerClient.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
                let writing = Task { await appendUntilRefused(writer, inFlight: 64) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...10)))
                let recovered = try await recoveryClient.recoverLedger(writer.ledgerID)
                let confirmed = await writing.value.compactMap { try? $0.get() }
                confirmedInAll += confirmed.count
                if let highest = confirmed.max(), highest > recovered.lastAddConfirmed {
                    Issue.record("round \(round): closed at \(recovered.lastAddConfirmed), but the old writer confirmed up to \(highest)")
                }
            }
            #expect(confirmedInAll > 0, "the writers got entries confirmed before they were fenced")
        }
    }
}

/// Appends with up to `inFlight` outstanding until an add fails; returns every result.
func appendUntilRefused(_ writer: LedgerWriter, inFlight: Int) async -> [Result<Int64, LedgerError>] {
    await FenceRaceTests.appendUntilRefused(writer, inFlight: inFlight)
}
