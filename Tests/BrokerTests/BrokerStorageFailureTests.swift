import ClusterTesting
import Foundation
import Testing

/// Storage failures under the real Pulsar client: what it sees, and what is stored.
@Suite("Broker storage failures with the real client", .timeLimit(.minutes(4)))
struct BrokerStorageFailureTests {
    /// A producer pipelines numbered messages while its topic rolls over to a new ledger
    /// every 100 entries; meanwhile the metadata store stalls for writers long enough that
    /// a rollover fails. The client resends what failed; a consumer then reads every
    /// message exactly once, in the order sent.
    @Test func aFailedRolloverKeepsTheOrderSent() async throws {
        let cluster = try await BrokerCluster.start(label: "failed-rollover-client", brokerArguments: ["--max-entries-per-ledger", "100"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/failed-rollover-client"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/ordered_producer.py")
        let producer = try ChildProcess(
            try PythonClient.interpreter(), [script.path, cluster.serviceURL, topic, "14"], logPath: cluster.directory.file("producer.log")
        )
        defer { producer.stop() }
        try await producer.waitForOutput("READY")
        try await Task.sleep(for: .seconds(2))
        // Held a little past the store's 5 s busy timeout: the rollover waiting on it fails.
        let lock = try await cluster.holdMetadataWriteLock()
        try await Task.sleep(for: .milliseconds(5400))
        lock.stop()
        #expect(try await producer.waitForExit(timeout: .seconds(120)) == 0, "\(producer.output().suffix(2000))")
        let summary = try #require(producer.output().split(separator: "\n").last { $0.hasPrefix("SENT ") }, "\(producer.output().suffix(2000))")
        let counts = summary.split(separator: " ").compactMap { Int($0) }
        try #require(counts.count == 3)
        #expect(counts[0] > 1000 && counts[1] == counts[0] && counts[2] == 0, "\(summary)")

        let consumed = try await cluster.drain(topic)
        let outOfOrder = zip(consumed, consumed.dropFirst()).first { $0.1 != $0.0 + 1 }
        #expect(consumed.count == counts[0] && consumed.first == 0 && outOfOrder == nil,
            "consumed \(consumed.count) of \(counts[0]); first break in the order: \(outOfOrder.map { "\($0.0) then \($0.1)" } ?? "none")")
        #expect(producer.output().localizedCaseInsensitiveContains("send error"), "the stall failed no send: \(producer.output().suffix(1500))")
    }
}
