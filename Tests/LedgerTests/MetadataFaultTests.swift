import BookieWire
import ClusterTesting
import Foundation
import Metadata
import NIOCore
import Synchronization
import Testing

@testable import Ledger

/// Ledger metadata writes that the store applies but reports as failed (an etcd deadline
/// after the commit), injected by ``FaultyMetadataStore``.
@Suite("Ledger metadata writes that apply but report failure", .timeLimit(.minutes(3)))
struct MetadataFaultTests {
    /// Whether `value` is ledger metadata matching `condition`.
    static func ledgerMetadata(_ value: [UInt8]?, _ condition: (LedgerMetadata) -> Bool) -> Bool {
        guard let value, let metadata = try? JSONDecoder().decode(LedgerMetadata.self, from: Data(value)) else { return false }
        return condition(metadata)
    }

    /// Whether `bookie` returns entry `entryID` of the ledger, intact.
    static func holds(_ bookie: String, _ ledgerID: Int64, _ entryID: Int64, client: LedgerClient) async -> Bool {
        let read = ReadRequest(ledgerID: UInt64(ledgerID), firstEntryID: UInt64(entryID))
        guard case .success(let response) = await client.request(bookie, .read(read)),
            case .read(_, _, _, let entries) = response.body, let bytes = entries.first
        else { return false }
        guard case .success = LedgerReader.verify(bytes, ledgerID: ledgerID, entryID: entryID, bookie: bookie) else { return false }
        return true
    }

    /// 2/2/2 over three bookies. One bookie of the ensemble is frozen while 50 adds go
    /// out, so only the other stores them; then that other one dies and is replaced, and
    /// the store applies the ensemble change but reports it failed. The writer must not
    /// count the dead bookie's acks towards the new write sets: every confirmed entry is
    /// held by an ack quorum of the write set the stored metadata records for it.
    @Test func anEnsembleChangeWhoseAnswerWasLostCountsNoReplacedBookie() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "fault-ensemble-change")
        let faulty = FaultyMetadataStore(wrapping: cluster.metadata)
        let client = LedgerClient(metadata: faulty, configuration: .init(requestTimeout: .seconds(10), speculativeReadTimeout: .milliseconds(200)))
        var paused: Int?
        do {
            let writer = try await client.createLedger(ensembleSize: 2, writeQuorum: 2, ackQuorum: 2)
            #expect(await appendMany(writer, count: 20, inFlight: 8).allSatisfy { (try? $0.get()) != nil })
            let ensemble = await writer.currentMetadata.ensembles[0].bookies
            let key = ClusterLayout.ledger(UInt64(writer.ledgerID))
            faulty.failAfterApplying { written, value in written == key && Self.ledgerMetadata(value) { $0.ensembles.count == 2 } }

            paused = cluster.index(of: ensemble[0])
            cluster.bookies.pause(paused!)
            let results = Mutex<[Int64: Result<Int64, LedgerError>]>([:])
            for entry in Int64(20)..<70 {
                writer.append(LedgerCluster.payload(entry)) { result in results.withLock { $0[entry] = result } }
            }
            try await Task.sleep(for: .milliseconds(500))  // The other bookie stores all 50.
            let lost = cluster.index(of: ensemble[1])
            cluster.bookies.kill(lost)
            // The next add finds it gone: the writer replaces it.
            writer.append(LedgerCluster.payload(70)) { result in results.withLock { $0[70] = result } }
            #expect(await waitUntil(timeout: .seconds(10)) { faulty.injectedFailures.count == 1 }, "the ensemble change was made")
            cluster.bookies.resume(paused!)
            paused = nil
            let settled = await waitUntil(timeout: .seconds(10)) { results.withLock { $0.count } == 51 }
            #expect(settled, "only \(results.withLock { $0.count }) of adds 20...70 completed")
            #expect(results.withLock { $0.values.allSatisfy { (try? $0.get()) != nil } }, "\(results.withLock { $0.values.filter { (try? $0.get()) == nil } })")

            try await cluster.bookies.restart(lost)  // Its disk is intact: it counts where it is recorded.
            let checker = cluster.otherClient()
            try await checker.refreshBookies()
            let (stored, _) = try await checker.readMetadata(writer.ledgerID)
            #expect(stored.ensembles.count == 2 && !stored.ensembles[1].bookies.contains(ensemble[1]), "\(stored.ensembles)")
            let confirmed = Array(0..<20) + results.withLock { $0.values.compactMap { try? $0.get() } }.sorted()
            var short: [String] = []
            for entry in confirmed {
                var holders: [String] = []
                for bookie in stored.writeSet(for: entry) {
                    if await Self.holds(bookie, writer.ledgerID, entry, client: checker) { holders.append(bookie) }
                }
                if holders.count < stored.ackQuorum { short.append("\(entry): \(holders) of \(stored.writeSet(for: entry))") }
            }
            #expect(short.count == 0, "confirmed entries held by fewer than Qa of their recorded write set: \(short.count), first \(short.prefix(3))")
            await checker.close()
        } catch {
            Issue.record("\(error)")
        }
        if let paused { cluster.bookies.resume(paused) }
        await client.close()
        await cluster.stop()
    }

    /// The store applies a writer's close and reports it failed: the close still succeeds,
    /// and closing again is not refused as "fenced" by that first close.
    @Test func aCloseWhoseAnswerWasLostSucceeds() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "fault-close")
        let faulty = FaultyMetadataStore(wrapping: cluster.metadata)
        let client = LedgerClient(metadata: faulty, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(200)))
        do {
            let writer = try await client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 4).allSatisfy { (try? $0.get()) != nil })
            let key = ClusterLayout.ledger(UInt64(writer.ledgerID))
            faulty.failAfterApplying { written, value in written == key && Self.ledgerMetadata(value) { $0.state == .closed } }
            do {
                let closed = try await writer.close()
                #expect(closed.state == .closed && closed.lastEntryID == 9)
            } catch {
                Issue.record("the first close failed: \(error)")
            }
            #expect(faulty.injectedFailures == [key])
            // Closing again (as a caller that saw an error would) is not refused as "fenced".
            let again = try await writer.close()
            #expect(again.state == .closed && again.lastEntryID == 9)
            #expect(try await cluster.client.readMetadata(writer.ledgerID).0 == again)
        } catch {
            Issue.record("\(error)")
        }
        await client.close()
        await cluster.stop()
    }

    /// A recoverer's close that the store applied but reported failed: recovery still
    /// returns the closed ledger.
    @Test func aRecoveryWhoseCloseAnswerWasLostReturnsTheClosedLedger() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "fault-recovery-close")
        let faulty = FaultyMetadataStore(wrapping: cluster.metadata)
        let recoverer = LedgerClient(metadata: faulty, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(200)))
        do {
            let writer = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 2)
            #expect(await appendMany(writer, count: 10, inFlight: 4).allSatisfy { (try? $0.get()) != nil })
            let key = ClusterLayout.ledger(UInt64(writer.ledgerID))
            faulty.failAfterApplying { written, value in written == key && Self.ledgerMetadata(value) { $0.state == .closed } }
            let recovered = try await recoverer.recoverLedger(writer.ledgerID)
            #expect(faulty.injectedFailures == [key])
            #expect(recovered.metadata.state == .closed && recovered.lastAddConfirmed == 9)
            #expect(try await cluster.client.readMetadata(writer.ledgerID).0 == recovered.metadata)
        } catch {
            Issue.record("\(error)")
        }
        await recoverer.close()
        await cluster.stop()
    }

    /// 2/2/2 with a bookie of the ensemble down: the recoverer's ensemble change and its
    /// close are both applied and reported failed. Recovery completes, and every entry
    /// up to the close is held by an ack quorum of the write set recorded for it.
    @Test func aRecoveryWhoseEnsembleChangeAnswerWasLostCompletes() async throws {
        let cluster = try await LedgerCluster.start(bookies: 3, label: "fault-recovery-ensemble")
        let owner = FreezableClient(metadata: cluster.metadata, requestTimeout: .seconds(10))
        let faulty = FaultyMetadataStore(wrapping: cluster.metadata)
        let recoverer = LedgerClient(metadata: faulty, configuration: .init(requestTimeout: .seconds(2), speculativeReadTimeout: .milliseconds(200)))
        do {
            let (writer, ensemble, writing) = try await owner.writeUntilFrozen(last: 299)
            let key = ClusterLayout.ledger(UInt64(writer.ledgerID))
            faulty.failAfterApplying(times: 2) { written, value in
                written == key && Self.ledgerMetadata(value) { $0.ensembles.count == 2 || $0.state == .closed }
            }
            let victim = cluster.index(of: ensemble[1])
            cluster.bookies.kill(victim)
            let recovered = try await withDeadline(.seconds(60), "recovery") { try await recoverer.recoverLedger(writer.ledgerID) }
            #expect(faulty.injectedFailures == [key, key])
            #expect(recovered.lastAddConfirmed >= 299 && recovered.metadata.ensembles.count == 2, "\(recovered.metadata)")

            try await cluster.bookies.restart(victim)  // Its disk is intact: it counts where it is recorded.
            let checker = cluster.otherClient()
            try await checker.refreshBookies()
            let (stored, _) = try await checker.readMetadata(writer.ledgerID)
            #expect(stored == recovered.metadata)
            var short: [String] = []
            for entry in 0...recovered.lastAddConfirmed {
                var holders: [String] = []
                for bookie in stored.writeSet(for: entry) {
                    if await Self.holds(bookie, writer.ledgerID, entry, client: checker) { holders.append(bookie) }
                }
                if holders.count < stored.ackQuorum { short.append("\(entry): \(holders) of \(stored.writeSet(for: entry))") }
            }
            #expect(short.count == 0, "entries held by fewer than Qa of their recorded write set: \(short.count), first \(short.prefix(3))")
            await checker.close()
            owner.gate.open()
            _ = await writing.value
        } catch {
            Issue.record("\(error)")
        }
        await owner.shutdown()
        await recoverer.close()
        await cluster.stop()
    }
}
