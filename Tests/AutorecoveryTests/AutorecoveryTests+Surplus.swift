import ClusterTesting
import Ledger
import Metadata
import Testing

extension AutorecoveryTests {
    /// A bookie SIGKILLed, its ledgers re-replicated to the others, then restarted: its
    /// copies of those ledgers are surplus and its garbage collection drops them, while
    /// the copies the ledgers name stay whole (every bookie collects every 0.5 s, through
    /// the re-replication too). While a ledger's re-replication lock is held (a worker
    /// could be copying to this very bookie), its copy stays.
    @Test func aBookieBackAfterItsLedgersMovedDropsItsCopies() async throws {
        let cluster = try await ReplicationCluster.start(
            bookies: 4, label: "rerep-surplus", extra: ["--gc-interval-seconds", "0.5", "--over-replicated-gc-seconds", "0.5"]
        )
        do {
            for _ in 0..<4 { _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: 3, ackQuorum: 2, entries: 100) }
            let ledgers = try await UnderReplication.ledgerIDs(in: cluster.metadata)
            let victim = try await cluster.metadata(of: ledgers[0]).ensembles[0].bookies[0]
            var before: [Int64: LedgerMetadata] = [:]
            for id in ledgers {
                let metadata = try await cluster.metadata(of: id)
                if metadata.bookies.contains(victim) { before[id] = metadata }
            }
            cluster.bookies.kill(cluster.index(of: victim))
            let moved = try await waitUntil(timeout: .seconds(40)) { try await !cluster.anyNames(victim, ledgers) }
            #expect(moved, "ledgers still name \(victim) after 40 s")

            // Hold every lock, as workers copying would.
            let session = try await cluster.metadata.createSession(ttl: .seconds(30))
            var locks: [(String, Int64)] = []
            for id in before.keys {
                let lock = ClusterLayout.replicationLock(UInt64(id))
                locks.append((lock, try await cluster.metadata.put(lock, value: Array("test".utf8), expecting: .absent, session: session)))
            }
            try await cluster.bookies.restart(cluster.index(of: victim))
            // Read through the old metadata, the victim's copies show as missing once dropped.
            func victimMisses() async throws -> [Int64: Int] {
                var missing: [Int64: Int] = [:]
                for (id, metadata) in before {
                    let problems = try await cluster.client.checkReplicas(of: id, metadata: metadata).problems
                    missing[id] = problems.filter { $0.bookie == victim && $0.kind == .missingEntries }.reduce(0) { $0 + $1.count }
                }
                return missing
            }
            func victimLacksAll() async throws -> Bool { try await victimMisses().values.allSatisfy { $0 >= 100 } }
            try await Task.sleep(for: .seconds(2))
            #expect(try await victimMisses().values.allSatisfy { $0 == 0 }, "a copy was dropped while its lock was held")
            for (lock, version) in locks { try await cluster.metadata.delete(lock, expecting: .version(version)) }
            try await cluster.metadata.closeSession(session)
            let dropped = try await waitUntil(timeout: .seconds(20)) { try await victimLacksAll() }
            #expect(dropped, "\(victim) still holds copies of ledgers that no longer name it")
            #expect(try await cluster.replicaProblems(ledgers).isEmpty)
            for id in ledgers { #expect(try await cluster.readsBack(id, entries: 100), "ledger \(id) reads back") }
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
