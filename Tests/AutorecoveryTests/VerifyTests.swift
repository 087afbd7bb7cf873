import ClusterTesting
import ClusterVerification
import Foundation
import Ledger
import Metadata
import Testing

/// `magnetar verify` (and ``ClusterVerifier`` under it) against real bookies: a clean
/// cluster is reported clean; planted problems are found, with a non-zero exit; `--repair`
/// has autorecovery restore a bookie's missing copies.
@Suite("Cluster verification", .serialized, .timeLimit(.minutes(3)))
struct VerifyTests {
    static func verify(_ cluster: ReplicationCluster, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(try BuiltProducts.path(of: "magnetar"), ["verify", "--metadata-url", cluster.bookies.metadataURL] + arguments)
    }

    static func put(_ cluster: ReplicationCluster, _ key: String, _ json: String) async throws {
        try await cluster.metadata.put(key, value: Array(json.utf8))
    }

    @Test func aCleanClusterIsCleanAndPlantedProblemsAreFound() async throws {
        let cluster = try await ReplicationCluster.start(bookies: 4, label: "verify")
        do {
            _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: 3, ackQuorum: 2, entries: 120)
            _ = try await cluster.writeLedger(ensemble: 3, writeQuorum: 2, ackQuorum: 2, entries: 120)
            let ids = try await UnderReplication.ledgerIDs(in: cluster.metadata)
            let topic = "public/default/persistent/orders"
            try await Self.put(cluster, ClusterLayout.managedLedger(topic), #"{"ledgers":[{"id":\#(ids[0]),"entries":120,"size":0},{"id":\#(ids[1]),"entries":120,"size":0}]}"#)
            try await Self.put(cluster, ClusterLayout.cursor("sub", of: topic), #"{"markDelete":{"ledgerID":\#(ids[1]),"entryID":50},"acked":[]}"#)

            let clean = try await Self.verify(cluster)
            #expect(clean.status == 0, "\(clean.output)")
            #expect(clean.output.contains("ledgers checked: 2 (entries 600)") && clean.output.contains("no problems found"), "\(clean.output)")

            // Plant: ledger 1's first copy is moved (in metadata) to the spare bookie, which
            // has none of its entries; a ledger no topic lists; a topic listing a ledger that
            // does not exist; a cursor past its topic's end.
            var (damaged, version) = try await cluster.client.readMetadata(ids[0])
            let spare = Set(cluster.bookies.ids).subtracting(damaged.bookies).first!
            damaged.ensembles[0].bookies[1] = spare
            try await cluster.metadata.put(ClusterLayout.ledger(UInt64(ids[0])), value: Array(try JSONEncoder().encode(damaged)), expecting: .version(version))
            _ = try await cluster.writeLedger(ensemble: 2, writeQuorum: 2, ackQuorum: 2, entries: 3)
            let orphanID = try await UnderReplication.ledgerIDs(in: cluster.metadata).last!
            // A ledger closed short of entries its bookies saw confirmed: their LAC is past its end.
            let shortWriter = try await cluster.client.createLedger(ensembleSize: 3, writeQuorum: 3, ackQuorum: 3)
            for entry in 0..<10 { _ = try await shortWriter.append(ReplicationCluster.payload(shortWriter.ledgerID, Int64(entry), size: 16)) }
            var short = try await shortWriter.close()
            let shortVersion = try await cluster.client.readMetadata(shortWriter.ledgerID).1
            short.lastEntryID = 2
            try await cluster.metadata.put(
                ClusterLayout.ledger(UInt64(shortWriter.ledgerID)), value: Array(try JSONEncoder().encode(short)), expecting: .version(shortVersion)
            )
            let broken = "public/default/persistent/broken"
            try await Self.put(cluster, ClusterLayout.managedLedger(broken), #"{"ledgers":[{"id":999999,"entries":0,"size":0}]}"#)
            try await Self.put(cluster, ClusterLayout.cursor("ahead", of: topic), #"{"markDelete":{"ledgerID":\#(ids[1]),"entryID":500},"acked":[]}"#)

            let found = try await Self.verify(cluster, ["--json"])
            #expect(found.status == 1, "\(found.output)")
            let report = try JSONDecoder().decode(VerificationReport.self, from: Data(found.output.utf8))
            let kinds = Set(report.problems.map(\.kind))
            #expect(kinds == [.missingEntries, .orphanLedger, .missingLedger, .cursorBeyondEnd, .lacAhead], "\(report.problems)")
            #expect(report.problems.contains { $0.kind == .lacAhead && $0.ledger == shortWriter.ledgerID && ($0.firstEntry ?? 0) >= 8 })
            let missing = report.problems.filter { $0.kind == .missingEntries }
            #expect(missing.count == 1 && missing[0].ledger == ids[0] && missing[0].bookie == spare && missing[0].count == 120, "\(missing)")
            #expect(report.problems.contains { $0.kind == .orphanLedger && $0.ledger == orphanID })
            #expect(report.problems.filter { $0.kind == .orphanLedger }.count == 2, "the orphan and the short ledger")
            #expect(report.problems.contains { $0.kind == .missingLedger && $0.ledger == 999999 && $0.topic == broken })
            #expect(report.problems.contains { $0.kind == .cursorBeyondEnd && $0.cursor == "ahead" })

            // --repair marks the damaged ledger; the bookies' workers top the spare up in place.
            let repair = try await Self.verify(cluster, ["--repair"])
            #expect(repair.status == 1 && repair.output.contains("marked for re-replication: \(ids[0])"), "\(repair.output)")
            let repaired = try await waitUntil(timeout: .seconds(30)) {
                try await cluster.client.checkReplicas(of: ids[0], metadata: cluster.metadata(of: ids[0])).problems.isEmpty
            }
            #expect(repaired, "the spare bookie did not get ledger \(ids[0])'s entries")

            // With the metadata problems removed too, the cluster is clean again.
            try await cluster.metadata.delete(ClusterLayout.managedLedger(broken))
            try await cluster.metadata.delete(ClusterLayout.cursor("ahead", of: topic))
            try await cluster.client.deleteLedger(orphanID)
            try await cluster.client.deleteLedger(shortWriter.ledgerID)
            let again = try await Self.verify(cluster)
            #expect(again.status == 0, "\(again.output)")
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    @Test func anUnreachableMetadataStoreExitsWithThree() async throws {
        let directory = try TemporaryDirectory(label: "verify-no-store")
        defer { directory.remove() }
        let result = try await ChildProcess.run(
            try BuiltProducts.path(of: "magnetar"), ["verify", "--metadata-url", "bogus:\(directory.file("x"))"]
        )
        #expect(result.status == 3, "\(result.output)")
    }
}
