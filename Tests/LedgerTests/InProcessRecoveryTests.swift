import BookieStorage
import BookieWire
import ClusterTesting
import Ledger
import LedgerTesting
import Metadata
import NIOCore
import Testing

@Suite("Recovery on in-process bookies", .timeLimit(.minutes(1)))
struct InProcessRecoveryTests {
    /// No explicit LAC: the bookies know only the LAC each add carried.
    static let noExplicitLAC = LedgerClient.Configuration(requestTimeout: .seconds(5), speculativeReadTimeout: .milliseconds(20), explicitLACDelay: .seconds(3600))

    /// The writer's last adds reach two bookies of three (3/3/2), so it confirms them, but
    /// the bookies were told a LAC before them; then the writer dies. Recovery fences the
    /// ledger, finds those entries, writes those past the bookies' LAC to the third bookie
    /// too, and closes after them; the dead writer's next add is refused as fenced, and every reader agrees on
    /// the end. (In-process counterpart of `recoveryFencesTheWriterAndReadersAgree`.)
    @Test func recoveryOfALedgerWhoseWriterDied() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client(configuration: Self.noExplicitLAC).createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 20, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            // The writer's adds from entry 20 on never reach the third bookie.
            let third = cluster.bookie(ensemble[2])
            third.setFault { request in
                guard let add = request.addedEntry, !add.recovery, add.entryID >= 20 else { return nil }
                return .drop
            }
            #expect(await appendMany(writer, count: 5, inFlight: 5, startingAt: 20).allSatisfy { (try? $0.get()) != nil })
            #expect(stored(third, writer.ledgerID).count == 20)

            let recovered = try await cluster.client(configuration: Self.noExplicitLAC).recoverLedger(writer.ledgerID)
            #expect(recovered.metadata.state == .closed)
            #expect(recovered.lastAddConfirmed == 24, "the entries on one bookie were recovered")
            #expect(recovered.metadata.ensembles.map(\.bookies) == [ensemble], "no bookie needed replacing")
            for id in ensemble.prefix(2) {
                #expect(stored(cluster.bookie(id), writer.ledgerID).count == 25)
            }
            // Entries past the LAC the bookies knew (24 at least: no add carried a LAC of
            // 24) were rewritten to the whole write quorum.
            #expect((try? third.store.readEntry(ledgerID: UInt64(writer.ledgerID), entryID: 24)) != nil, "the third bookie got the last entry by recovery")
            #expect(try await recovered.read(from: 0, through: 24) == (0..<25).map { LedgerCluster.payload($0) })
            do {
                try await writer.append(LedgerCluster.payload(25))
                Issue.record("the dead writer's add succeeded after recovery")
            } catch let error as LedgerError {
                #expect(error.code == .fenced, "\(error)")
            }
            let again = try await cluster.client().recoverLedger(writer.ledgerID)
            #expect(again.lastAddConfirmed == 24 && again.metadata == recovered.metadata)
            #expect(try await cluster.client().openLedger(writer.ledgerID).lastAddConfirmed == 24)
        }
    }

    /// An entry that no replica has, where `Qw − Qa + 1` replicas say so, was never
    /// confirmed: recovery closes before it even when a replica does not answer.
    @Test func recoveryEndsWhereEnoughReplicasLackTheNextEntry() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client(configuration: Self.noExplicitLAC).createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            // One bookie holds every read: recovery decides from the other two.
            cluster.bookie(ensemble[2]).setFault { if case .read = $0 { .hold } else { nil } }
            let recovered = try await cluster.client(configuration: Self.noExplicitLAC).recoverLedger(writer.ledgerID)
            #expect(recovered.lastAddConfirmed == 9)
            #expect(recovered.metadata.ensembles.map(\.bookies) == [ensemble], "\(recovered.metadata.ensembles)")
            cluster.bookie(ensemble[2]).setFault(nil)
            cluster.bookie(ensemble[2]).releaseHeld()
        }
    }

    /// 2/2/2 on three bookies: the writer dies with its last entry past the bookies' LAC
    /// and a bookie of the ensemble is down. Recovery writes the tail to the third bookie
    /// through an ensemble change and closes. (In-process counterpart of
    /// `recoveryReplacesADeadBookieOfA222Ensemble`.)
    @Test func recoveryReplacesADeadBookie() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client(configuration: Self.noExplicitLAC).createLedger(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
            #expect(await appendMany(writer, count: 30, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            cluster.bookie(ensemble[1]).isDown = true

            let recovered = try await cluster.client(configuration: Self.noExplicitLAC).recoverLedger(writer.ledgerID)
            #expect(recovered.lastAddConfirmed == 29)
            let ensembles = recovered.metadata.ensembles
            #expect(ensembles.count == 2 && ensembles[1].firstEntryID == 29, "the entry past the LAC went to a new ensemble: \(ensembles)")
            #expect(ensembles.last.map { !$0.bookies.contains(ensemble[1]) && $0.bookies.count == 2 } ?? false, "\(ensembles)")
            #expect(try await recovered.read(from: 0, through: 29) == (0..<30).map { LedgerCluster.payload($0) })
        }
    }

    /// A bookie that answers nothing (held, as a SIGSTOPped process) costs recovery no
    /// request timeout: it is decided from the others and the hung one is replaced.
    /// (In-process counterpart of `aHungBookieCostsRecoveryNoTimeout`.)
    @Test func aHungBookieCostsRecoveryNoTimeout() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client(configuration: Self.noExplicitLAC).createLedger(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
            #expect(await appendMany(writer, count: 30, inFlight: 1).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            let hung = cluster.bookie(ensemble[0])
            hung.setFault { _ in .hold }
            var patient = Self.noExplicitLAC
            patient.requestTimeout = .seconds(60)
            let start = ContinuousClock.now
            let recovered = try await cluster.client(configuration: patient).recoverLedger(writer.ledgerID)
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(5), "recovery took \(elapsed) with a 60 s request timeout")
            #expect(recovered.lastAddConfirmed == 29)
            #expect(recovered.metadata.ensembles.last.map { !$0.bookies.contains(hung.id) } ?? false, "\(recovered.metadata.ensembles)")
            hung.setFault(nil)
            hung.releaseHeld()
            #expect(try await recovered.read(from: 0, through: 29) == (0..<30).map { LedgerCluster.payload($0) })
        }
    }

    /// With two bookies of a 3/3/2 ensemble down, recovery cannot fence enough of them: it
    /// fails clearly and leaves the ledger IN_RECOVERY; once they are back it completes.
    /// (In-process counterpart of the second half of `recoveryNeedsEnoughBookiesAndCanBeRetried`.)
    @Test func recoveryNeedsEnoughBookiesAndCanBeRetried() async throws {
        try await InProcessCluster.with(bookies: 3) { cluster in
            let writer = try await cluster.client().createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 50, inFlight: 8).allSatisfy { (try? $0.get()) != nil })
            cluster.bookies[0].isDown = true
            cluster.bookies[1].isDown = true
            do {
                _ = try await cluster.client().recoverLedger(writer.ledgerID)
                Issue.record("recovery with one bookie of three succeeded")
            } catch let error as LedgerError {
                #expect(error.code == .recoveryFailed && error.message.contains("IN_RECOVERY"), "\(error)")
            }
            #expect(try await cluster.client().readMetadata(writer.ledgerID).0.state == .inRecovery)
            cluster.bookies[0].isDown = false
            cluster.bookies[1].isDown = false
            let recovered = try await cluster.client().recoverLedger(writer.ledgerID)
            #expect(recovered.lastAddConfirmed == 49)
            #expect(try await recovered.read(from: 0, through: 49) == (0..<50).map { LedgerCluster.payload(Int64($0)) })
        }
    }
}
