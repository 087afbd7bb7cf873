import ClusterTesting
import Foundation
import ManagedLedger
import Metadata
import Testing

/// Managed-ledger metadata writes that the store applies but reports as failed (an etcd
/// deadline after the commit), injected by ``FaultyMetadataStore``.
@Suite("Managed-ledger metadata writes that apply but report failure", .timeLimit(.minutes(3)))
struct CursorMetadataFaultTests {
    /// The store applies a cursor update and reports it failed: the cursor goes on
    /// persisting (it learns the version it wrote, instead of failing every later
    /// compare-and-set).
    @Test func aCursorKeepsPersistingAfterAnUpdateWhoseAnswerWasLost() async throws {
        let cluster = try await ManagedLedgerCluster.start(label: "ml-cursor-lost-answer")
        let faulty = FaultyMetadataStore(wrapping: cluster.metadata)
        do {
            let name = "public/default/persistent/cursor-lost-answer"
            let configuration = ManagedLedgerConfiguration(cursorPersistInterval: .seconds(60))
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client, metadata: faulty, configuration: configuration)
            let cursor = try await ledger.openCursor("sub", initialPosition: .earliest)
            let p = await appendAll(ledger, 0..<10).compactMap { try? $0.1.get() }
            #expect(p.count == 10)
            let key = "/managed-ledgers/\(name)/cursors/sub"
            faulty.failAfterApplying { written, _ in written == key }
            await cursor.ackCumulative(p[3])
            try? await cursor.persist()
            #expect(faulty.injectedFailures == [key])

            await cursor.ackCumulative(p[6])
            try await cursor.persist()
            await cursor.ackCumulative(p[8])
            try await cursor.persist()
            let stored = try #require(try await cluster.metadata.get(key))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stored.value)) as? [String: Any])
            #expect((json["markDelete"] as? [String: Any])?["entryID"] as? Int == Int(p[8].entryID))
            try await ledger.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.stop()
    }
}
