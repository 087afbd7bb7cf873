import ClusterTesting
import Foundation
import Ledger
import ManagedLedger
import Metadata
import NIOCore
import Testing

/// What a managed ledger must never do, whatever fails or races: store a later append
/// after an earlier one failed, lose entries a cursor moved back to, or move a cursor over
/// entries not yet written.
@Suite("Managed ledger safety on real bookies", .timeLimit(.minutes(3)))
struct ManagedLedgerSafetyTests {
    /// The metadata store fails while a rollover is due: the appends queued for it fail.
    /// Appends made after that fail too, even once the store works again, so nothing sent
    /// after a failed entry is stored before the sender resends it. Opened again, the log
    /// takes appends and holds every entry once, in the order sent.
    @Test func afterAFailedAppendNothingLaterIsStoredUntilReopened() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-failed-rollover")
        do {
            let name = "public/default/persistent/failed-rollover"
            let faulty = UnwritableMetadataStore(cluster.metadata)
            let client = ManagedLedgerCluster.client(faulty)
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 10, cursorPersistInterval: .seconds(3600))
            let ledger = try await ManagedLedger.open(name: name, client: client, metadata: faulty, configuration: configuration)
            let first = await appendAll(ledger, 0..<10)
            #expect(first.allSatisfy { (try? $0.1.get()) != nil }, "the first ledger takes its ten entries")

            faulty.failWrites = true
            let during = await appendAll(ledger, 10..<15)
            #expect(during.allSatisfy { (try? $0.1.get()) == nil }, "the rollover cannot close the full ledger, so its appends fail")
            faulty.failWrites = false
            #expect(await ledger.isFenced, "the failed rollover fences the log")

            let after = await appendAll(ledger, 15..<20)
            let stored = after.compactMap { index, result in (try? result.get()).map { _ in index } }
            #expect(stored.isEmpty, "appends after a failed one were stored: \(stored)")
            for (_, result) in after {
                if case .failure(let error) = result { #expect(error is ManagedLedgerError, "\(error)") }
            }
            try? await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: client, metadata: faulty, configuration: configuration)
            let resent = await appendAll(reopened, 10..<20)
            #expect(resent.allSatisfy { (try? $0.1.get()) != nil }, "the reopened log takes appends")
            let entries = try await readAll(reopened, from: await reopened.firstPosition, chunk: 50)
            let labels = entries.map { String(buffer: $0.1).split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "?" }
            #expect(labels == (0..<20).map(String.init), "the log holds, in this order, the entries sent as \(labels)")
            #expect(entries.map(\.1) == (0..<20).map { payload($0) })
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// A cursor seeks back into ledgers it had consumed and persisted past; before the
    /// seek is persisted, another cursor's persist trims consumed ledgers. The trim must go
    /// by where the seeking cursor is now, not by the position it stored before: the
    /// ledgers it moved back into stay, and it reads every entry from there.
    @Test func aTrimDoesNotRemoveLedgersASeekMovedBackInto() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-seek-trim")
        do {
            let name = "public/default/persistent/seek-trim"
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 10, cursorPersistInterval: .seconds(3600))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let seeker = try await ledger.openCursor("seeker", initialPosition: .earliest)
            let other = try await ledger.openCursor("other", initialPosition: .earliest)
            let p = await appendAll(ledger, 0..<25).compactMap { try? $0.1.get() }
            try #require(p.count == 25)
            let ids = await ledger.ledgers.map(\.id)
            #expect(await ledger.ledgers.map(\.entries) == [10, 10, 5])

            await seeker.ackCumulative(p[19])
            try await seeker.persist()
            #expect(await ledger.ledgers.map(\.id) == ids, "the other cursor still needs every ledger")
            await seeker.seek(to: p[0])
            await other.ackCumulative(p[19])
            try await other.persist()
            #expect(await ledger.ledgers.map(\.id) == ids, "a trim removed ledgers the seeking cursor moved back into")

            let entries = try await readAll(ledger, from: await seeker.readPosition, chunk: 50)
            #expect(entries.map(\.0) == p, "the seeking cursor reads \(entries.count) of 25 entries")
            try await seeker.persist()
            #expect(await ledger.ledgers.map(\.id) == ids)
            try await ledger.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }

    /// Acknowledgements of positions past the last confirmed entry move nothing: entries
    /// appended afterwards at those positions are still unacknowledged and read.
    @Test func acksPastTheLastConfirmedEntryMoveNothing() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-ack-past-end")
        do {
            let name = "public/default/persistent/ack-past-end"
            let configuration = ManagedLedgerConfiguration(cursorPersistInterval: .seconds(3600))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: cluster.metadata, configuration: configuration)
            let cursor = try await ledger.openCursor("sub", initialPosition: .earliest)
            let p = await appendAll(ledger, 0..<5).compactMap { try? $0.1.get() }
            try #require(p.count == 5)
            let start = await cursor.markDeletePosition

            await cursor.ackCumulative(Position(ledgerID: p[4].ledgerID, entryID: p[4].entryID + 3))
            #expect(await cursor.markDeletePosition == start, "a cumulative ack past the end moved the cursor")
            await cursor.ack(Position(ledgerID: p[4].ledgerID, entryID: p[4].entryID + 2))
            #expect(await cursor.individuallyAcked.isEmpty, "an ack past the end was recorded")

            let later = await appendAll(ledger, 5..<10).compactMap { try? $0.1.get() }
            try #require(later.count == 5)
            let ackedLater = await cursor.run { cursor in later.filter { cursor.isAcked($0) } }
            #expect(ackedLater.isEmpty, "entries appended later count as acknowledged: \(ackedLater)")
            #expect(await cursor.backlog == 10)
            let entries = try await readAll(ledger, from: await cursor.readPosition, chunk: 50)
            #expect(entries.map(\.0) == p + later)
            try await ledger.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }
}
