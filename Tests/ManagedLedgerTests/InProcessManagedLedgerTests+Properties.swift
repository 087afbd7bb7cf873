import LedgerTesting
import ManagedLedger
import Metadata
import Testing

extension InProcessManagedLedgerTests {
    /// Properties are stored with the ledger list: they survive rollovers (which rewrite
    /// the list) and reach the next owner; concurrent updates each apply to what the one
    /// before stored; an update that changes nothing writes nothing.
    @Test func propertiesAreKeptWithTheLogForItsNextOwner() async throws {
        let cluster = try await InProcessCluster.start(bookies: 3)
        do {
            let name = "public/default/persistent/in-process-properties"
            let configuration = ManagedLedgerConfiguration(maxEntriesPerLedger: 5)
            let ledger = try await ManagedLedger.open(name: name, client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
            try await ledger.updateProperties { $0["kept"] = "yes" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        try await ledger.updateProperties { properties in
                            properties["count"] = String((properties["count"].flatMap { Int($0) } ?? 0) + 1)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await ledger.properties == ["kept": "yes", "count": "10"])
            // Rollovers rewrite the list; the properties go with it.
            let before = try #require(try await cluster.metadata.get(ClusterLayout.managedLedger(name)))
            #expect(await appendAll(ledger, 0..<12).allSatisfy { (try? $0.1.get()) != nil })
            let stored = try #require(try await cluster.metadata.get(ClusterLayout.managedLedger(name)))
            #expect(stored.version > before.version, "no rollover rewrote the list")
            try await ledger.updateProperties { $0["kept"] = "yes" }
            #expect(try await cluster.metadata.get(ClusterLayout.managedLedger(name))?.version == stored.version, "an update that changes nothing wrote")
            try await ledger.close()

            let reopened = try await ManagedLedger.open(name: name, client: cluster.client(), metadata: cluster.metadata, configuration: configuration)
            #expect(await reopened.properties == ["kept": "yes", "count": "10"])
            try await reopened.close()
            await #expect(throws: ManagedLedgerError.self) { try await reopened.updateProperties { $0["late"] = "no" } }
        } catch {
            Issue.record("\(error)")
        }
        await cluster.shutdown()
    }
}
