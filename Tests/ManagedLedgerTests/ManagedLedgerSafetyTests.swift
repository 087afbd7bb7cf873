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
            let faulty = FaultyMetadataStore(cluster.metadata)
            let client = ManagedLedgerCluster.client(faulty)
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 10, cursorPersistInterval: .seconds(3600))
            let ledger = try await ManagedLedger.open(name: name, client: client, metadata: faulty, configuration: configuration)
            let first = await appendAll(ledger, 0..<10)
            #expect(first.allSatisfy { (try? $0.1.get()) != nil }, "the first ledger takes its ten entries")

            faulty.failWrites = true
            let during = await appendAll(ledger, 10..<15)
            #expect(during.allSatisfy { (try? $0.1.get()) == nil }, "the rollover cannot close the full ledger, so its appends fail")
            faulty.failWrites = false

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
            #expect(
                entries.map(\.1) == (0..<20).map { payload($0) },
                "the log holds \(entries.compactMap { $0.1.getString(at: $0.1.readerIndex, length: 11) })"
            )
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }
}
