import BookieWire
import Ledger
import LedgerTesting
import NIOCore
import Testing

/// The storage check against bookies in the test process: whole copies pass, a copy a
/// bookie of the write set cannot return is found, open ledgers are left alone.
@Suite struct LedgerCopiesCheckTests {
    @Test func passesWholeCopiesAndFindsAMissingOne() async throws {
        let cluster = try await InProcessCluster.start(bookies: 3)
        do {
            let client = cluster.client()
            let writer = try await client.createLedger(ensembleSize: 3, writeQuorum: 2, ackQuorum: 2)
            for index in 0..<10 { _ = try await writer.append(ByteBuffer(string: "entry \(index)")) }
            let metadata = try await writer.close()
            let open = try await client.createLedger(ensembleSize: 3, writeQuorum: 2, ackQuorum: 2)
            _ = try await open.append(ByteBuffer(string: "not closed"))

            let clean = try await LedgerCopiesCheck.run(store: cluster.metadata, client: cluster.client())
            #expect(clean.ledgers == 2 && clean.closedLedgers == 1)
            #expect(clean.entries == 10 && clean.copies == 20)
            #expect(clean.problems.isEmpty, "\(clean)")

            let victim = metadata.writeSet(for: 4)[1]
            cluster.bookie(victim).setFault { request in
                if case .read(let read) = request, read.firstEntryID == 4 { return .fail(.noEntry) }
                return nil
            }
            let damaged = try await LedgerCopiesCheck.run(store: cluster.metadata, client: cluster.client())
            #expect(damaged.copies == 19)
            #expect(damaged.problems.count == 1, "\(damaged)")
            #expect(damaged.problems.first?.contains("entry 4: bookie \(victim)") == true, "\(damaged)")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}
