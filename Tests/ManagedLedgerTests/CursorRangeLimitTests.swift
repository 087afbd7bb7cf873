import LedgerTesting
@testable import ManagedLedger
import Testing

/// Individually acknowledged ranges and batches acknowledged in part are bounded per
/// cursor, in memory and in the stored record, however the acknowledgements fall.
@Suite("Cursor range limit", .timeLimit(.minutes(1)))
struct CursorRangeLimitTests {
    @Test func acksThatWouldNeedMoreRangesThanTheLimitAreNotKept() async throws {
        let cluster = try await InProcessCluster.start(bookies: 2)
        do {
            var configuration = ManagedLedgerConfiguration(ensembleSize: 2, writeQuorum: 2, ackQuorum: 1)
            configuration.maxUnackedRangesToPersist = 3
            let name = "public/default/persistent/range-limit"
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
            let positions = await appendAll(ledger, 0..<20).compactMap { try? $0.1.get() }
            #expect(positions.count == 20)
            let cursor = try await ledger.openCursor("s", initialPosition: .earliest)
            // Every other entry: each would be a range of its own.
            for index in stride(from: 1, to: 20, by: 2) { await cursor.ack(positions[index]) }
            let ranges = await cursor.individuallyAcked
            #expect(ranges.count == 3, "\(ranges)")
            // An ack next to a kept range still joins it.
            await cursor.ack(positions[2])
            #expect(await cursor.individuallyAcked.count == 2)
            #expect(await cursor.isAcked(positions[2]))
            // Batches acknowledged in part: as many as the limit.
            for index in 10..<16 where index % 2 == 0 { await cursor.ack(positions[index], batchIndexes: [0b10]) }
            #expect(await cursor.state.batches.count == 3, "the fourth batch acknowledged in part is not kept")
            try await cursor.persist()
            try await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
            let again = try await reopened.openCursor("s", initialPosition: .earliest)
            #expect(await again.individuallyAcked.count <= 3)
            try await reopened.close()
        } catch {
            Issue.record("\(error)")
        }
        await cluster.shutdown()
    }
}
