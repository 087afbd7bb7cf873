import ClusterTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Topics unloaded by request or for idleness: their clients reconnect, their ledgers are
/// closed cleanly, and nothing receipted is lost.
@Suite("Topic lifecycle", .timeLimit(.minutes(4)))
struct BrokerTopicLifecycleTests {
    /// The ids of a topic's ledgers, oldest first.
    static func ledgers(_ path: String, metadataURL: String) async throws -> [Int] {
        let value = try await Self.metadata("/managed-ledgers/\(path)", metadataURL: metadataURL)
        return (value["ledgers"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
    }

    static func ledgerState(_ id: Int, metadataURL: String) async throws -> String? {
        try await Self.metadata("/ledgers/\(id)", metadataURL: metadataURL)["state"] as? String
    }

    static func metadata(_ key: String, metadataURL: String) async throws -> [String: Any] {
        let result = try await ChildProcess.run(try BuiltProducts.path(of: "magnetar"), ["metadata", "get", "--metadata-url", metadataURL, key])
        let json = result.output.split(separator: "\n").last.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
    }

    static func waitFor(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        guard try await waitUntil(timeout: timeout, condition) else { throw TestHarnessError("timed out waiting for \(what)") }
    }

    /// Every receipted number was stored, and the first time each number appears they
    /// are in order (a resend after a reconnect may store a number twice).
    static func checkDrained(_ drained: [Int], receipted: [Int]) {
        #expect(Set(receipted).isSubset(of: Set(drained)), "missing: \(Set(receipted).subtracting(drained).sorted().prefix(20))")
        var seen = Set<Int>()
        let firsts = drained.filter { seen.insert($0).inserted }
        #expect(firsts == firsts.sorted(), "the producer's order was kept")
    }

    @Test func anUnloadedTopicTellsItsClientsAndClosesItsLedgerCleanly() async throws {
        let cluster = try await BrokerCluster.start(label: "topic-unload")
        defer { cluster.stop() }
        let topic = "persistent://public/default/unloaded"
        let path = "public/default/persistent/unloaded"
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        try await Self.waitFor("100 receipts") { receipted().count >= 100 }
        let before = try await Self.ledgers(path, metadataURL: cluster.bookies.metadataURL)
        let first = try #require(before.last)

        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(cluster.httpPort)/admin/v2/persistent/public/default/unloaded/unload")!)
        request.httpMethod = "PUT"
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 204)
        let atUnload = receipted().count

        // Closed by the unload itself, not recovered by the next load: CLOSED at once.
        #expect(try await Self.ledgerState(first, metadataURL: cluster.bookies.metadataURL) == "CLOSED")
        try await Self.waitFor("the producer to go on after the unload") { receipted().count >= atUnload + 100 }
        let after = try await Self.ledgers(path, metadataURL: cluster.bookies.metadataURL)
        #expect(after.count > before.count, "the topic loaded anew wrote a new ledger: \(before) → \(after)")
        #expect(cluster.broker.output().contains("reason=unload") || cluster.broker.output().contains("unload"), "the broker logged the unload")

        producer.stop()
        Self.checkDrained(try await cluster.drain(topic), receipted: receipted())
    }

    @Test func anIdleTopicIsUnloadedAndLoadsAgainWhenUsed() async throws {
        let cluster = try await BrokerCluster.start(label: "topic-idle", brokerArguments: ["--topic-idle-timeout-seconds", "1"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/idle"
        let path = "public/default/persistent/idle"
        let producer = try cluster.keepProducing(topic)
        func receipted(_ process: ChildProcess) -> [Int] { BrokerCluster.numbers(in: process.output(), prefix: "R ") }
        try await Self.waitFor("50 receipts") { receipted(producer).count >= 50 }
        producer.stop()
        let firstCount = receipted(producer).count
        let first = try #require(try await Self.ledgers(path, metadataURL: cluster.bookies.metadataURL).last)
        #expect(try await Self.ledgerState(first, metadataURL: cluster.bookies.metadataURL) == "OPEN")

        try await Self.waitFor("the idle topic's ledger to be closed", timeout: .seconds(20)) {
            try await Self.ledgerState(first, metadataURL: cluster.bookies.metadataURL) == "CLOSED"
        }
        #expect(cluster.broker.output().contains("idleness"))

        // Used again, it loads again.
        let again = try cluster.keepProducing(topic)
        defer { again.stop() }
        try await Self.waitFor("receipts after the reload") { receipted(again).count >= 50 }
        again.stop()
        let drained = try await cluster.drain(topic)
        #expect(drained.count >= firstCount + receipted(again).count)
    }
}
