import ClusterTesting
import Foundation
import Ledger
import Metadata
import Testing

/// Autorecovery with real bookie processes: a lost bookie's ledgers get their copies back
/// on the others, a decommissioned bookie is drained, and a worker killed mid-copy is
/// taken over.
@Suite("Autorecovery with real bookies", .serialized, .timeLimit(.minutes(3)))
struct AutorecoveryTests {
    /// Ledgers at 3/3/2 and 3/2/2 over four bookies; one bookie is SIGKILLed. Within a
    /// bounded time no ledger names it any more, every bookie of every new ensemble holds
    /// each entry of its write sets with a valid digest, and every entry reads back.
    @Test func aLostBookiesLedgersAreReplicatedToTheOthers() async throws {
        let cluster = try await ReplicationCluster.start(bookies: 4, label: "rerep-lost")
        do {
            for index in 0..<6 {
                _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: index % 2 == 0 ? 3 : 2, ackQuorum: 2, entries: 300)
            }
            let ledgers = try await UnderReplication.ledgerIDs(in: cluster.metadata)
            #expect(ledgers.count == 6)
            // The bookie named by the most ledgers.
            var counts: [String: Int] = [:]
            for id in ledgers { for bookie in try await cluster.metadata(of: id).bookies { counts[bookie, default: 0] += 1 } }
            let victim = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
            let named = counts[victim]!
            cluster.bookies.kill(cluster.index(of: victim))
            let started = ContinuousClock.now

            let moved = try await waitUntil(timeout: .seconds(40)) { try await !cluster.anyNames(victim, ledgers) }
            let took = ContinuousClock.now - started
            #expect(moved, "ledgers still name \(victim) after 40 s")
            print("re-replicated \(named) ledgers of \(victim) in \(took)")
            #expect(try await cluster.replicaProblems(ledgers).isEmpty)
            for id in ledgers {
                let metadata = try await cluster.metadata(of: id)
                #expect(metadata.state == .closed && metadata.lastEntryID == 299 && metadata.ensembles.allSatisfy { Set($0.bookies).count == 3 })
                #expect(try await cluster.readsBack(id, entries: 300), "ledger \(id) reads back")
            }
            #expect(try await UnderReplication.markedLedgers(in: cluster.metadata).isEmpty, "every mark is removed")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// `magnetar admin bookies decommission` through a broker: the live bookie is marked,
    /// takes no new ensembles, is drained through autorecovery, and once no ledger names
    /// it, its registration and cookie are removed.
    @Test func aDecommissionedBookieIsDrainedAndRemoved() async throws {
        let cluster = try await ReplicationCluster.start(bookies: 4, label: "rerep-decommission")
        var broker: ChildProcess?
        do {
            for _ in 0..<4 { _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: 3, ackQuorum: 2, entries: 100) }
            let ledgers = try await UnderReplication.ledgerIDs(in: cluster.metadata)
            let leaving = try await cluster.metadata(of: ledgers[0]).ensembles[0].bookies[0]
            do {
                try await UnderReplication.removeDecommissioned(leaving, in: cluster.metadata)
                Issue.record("a bookie that is not decommissioned was removed")
            } catch let error as LedgerError {
                #expect(error.code == .invalidArgument)
            }
            let httpPort = try FreePort.allocate()
            let started = try ChildProcess(
                try BuiltProducts.path(of: "broker"),
                ["--metadata-url", cluster.bookies.metadataURL, "--listen", "127.0.0.1:\(try FreePort.allocate())", "--http-port", "\(httpPort)"],
                logPath: cluster.directory.file("broker.log")
            )
            broker = started
            try await started.waitForOutput("broker serving")
            let magnetar = try BuiltProducts.path(of: "magnetar")
            let url = "http://127.0.0.1:\(httpPort)"
            let unknown = try await ChildProcess.run(magnetar, ["admin", "bookies", "decommission", "no-such-bookie", "--admin-url", url])
            #expect(unknown.status == 1 && unknown.output.contains("not known"), "\(unknown.output)")

            let decommission = Task {
                try await ChildProcess.run(
                    magnetar, ["admin", "bookies", "decommission", leaving, "--admin-url", url, "--wait-seconds", "60"], timeout: .seconds(90)
                )
            }
            // New ensembles leave it out while it drains.
            let marked = try await waitUntil(timeout: .seconds(10)) {
                try await cluster.metadata.get(ClusterLayout.decommissionedBookie(leaving)) != nil
            }
            #expect(marked)
            for _ in 0..<3 {
                let placed = try await cluster.writeLedger(ensemble: 3, writeQuorum: 3, ackQuorum: 2, entries: 1)
                #expect(!placed.bookies.contains(leaving), "a new ledger went to the decommissioned bookie")
            }
            let result = try await decommission.value
            #expect(result.status == 0 && result.output.contains("drained and removed"), "\(result.output)")
            let all = try await UnderReplication.ledgerIDs(in: cluster.metadata)
            #expect(try await UnderReplication.ledgers(referencing: leaving, in: cluster.metadata).isEmpty)
            #expect(try await cluster.replicaProblems(all).isEmpty)
            for id in ledgers { #expect(try await cluster.readsBack(id, entries: 100)) }
            #expect(try await cluster.metadata.get(ClusterLayout.availableBookie(leaving)) == nil)
            #expect(try await cluster.metadata.get(ClusterLayout.cookie(leaving)) == nil)
            #expect(try await cluster.metadata.get(ClusterLayout.decommissionedBookie(leaving)) == nil)
        } catch {
            broker?.stop()
            await cluster.stop()
            throw error
        }
        broker?.stop()
        await cluster.stop()
    }

    /// Copies run at 1 MB/s; the worker that claimed the lost bookie's ledger is SIGKILLed
    /// while copying. Its claim ends with its session, and another worker redoes the copy
    /// (the lost worker's own copies included) to the end.
    @Test func aWorkerKilledMidCopyIsTakenOver() async throws {
        let cluster = try await ReplicationCluster.start(bookies: 5, label: "rerep-takeover", rateMB: 1)
        do {
            _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: 3, ackQuorum: 2, entries: 200, size: 8 << 10)
            let id = try await UnderReplication.ledgerIDs(in: cluster.metadata)[0]
            let victim = try await cluster.metadata(of: id).ensembles[0].bookies[0]
            cluster.bookies.kill(cluster.index(of: victim))
            // Wait for a worker's claim, then kill that worker.
            var worker: String?
            let claimed = try await waitUntil(timeout: .seconds(20)) {
                worker = try await cluster.metadata.get(ClusterLayout.replicationLock(UInt64(id))).map { String(decoding: $0.value, as: UTF8.self) }
                return worker != nil
            }
            #expect(claimed, "no worker claimed ledger \(id)")
            guard let worker else { throw TestHarnessError("no claim") }
            try await Task.sleep(for: .milliseconds(300))
            cluster.bookies.kill(cluster.index(of: worker))
            #expect(try await cluster.metadata(of: id).bookies.contains(victim), "the copy (1.6 MB at 1 MB/s) was not finished when its worker died")

            let lost: Set<String> = [victim, worker]
            let done = try await waitUntil(timeout: .seconds(45)) { try await cluster.metadata(of: id).bookies.isDisjoint(with: lost) }
            #expect(done, "ledger \(id) still names \(lost)")
            // An audit that read the ledger before the switch may mark it again; the next
            // worker pass finds nothing to replace and removes the mark.
            let unmarked = try await waitUntil(timeout: .seconds(10)) {
                try await cluster.metadata.get(ClusterLayout.underReplicatedLedger(UInt64(id))) == nil
            }
            #expect(unmarked, "the mark is removed")
            #expect(try await cluster.replicaProblems([id]).isEmpty)
            #expect(try await cluster.readsBack(id, entries: 200, size: 8 << 10))
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }
}
