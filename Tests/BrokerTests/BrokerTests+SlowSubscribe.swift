import ClusterTesting
import Foundation
import Testing

extension BrokerCrashTests {
    /// A subscription whose topic takes longer to load than the client's operation timeout
    /// (its last ledger is being recovered from bookies that are stuck): the client gives
    /// up on its SUBSCRIBE, closes the consumer, and subscribes again on the same
    /// connection. Once the topic loads, the abandoned consumer must not hold the
    /// Exclusive subscription: before, it stayed registered, and every later SUBSCRIBE was
    /// refused as ConsumerBusy for as long as the connection lived.
    @Test func aSubscribeTheClientGaveUpOnDoesNotHoldTheSubscription() async throws {
        let cluster = try await BrokerCluster.start(label: "slow-subscribe")
        defer { cluster.stop() }
        let topic = "persistent://public/default/slow-subscribe"
        let producer = try cluster.keepProducing(topic)
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        try await Self.wait { receipted().count >= 100 }
        // The broker dies with the topic's ledger open: the next owner has to recover it.
        cluster.broker.kill(SIGKILL)
        _ = try await cluster.broker.waitForExit()
        producer.stop()
        let restarted = try await cluster.startSecondBroker()
        defer { restarted.stop() }
        for index in cluster.bookies.ids.indices { cluster.bookies.pause(index) }
        let consumer = try ChildProcess(
            try PythonClient.interpreter(),
            [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/subscribe_patiently.py").path,
             cluster.serviceURL, topic, "40"],
            logPath: cluster.directory.file("consumer.log")
        )
        defer { consumer.stop() }
        try await Task.sleep(for: .seconds(5))
        for index in cluster.bookies.ids.indices { cluster.bookies.resume(index) }
        _ = try await consumer.waitForExit(timeout: .seconds(60))
        let output = consumer.output()
        #expect(output.contains("W 1 "), "the first SUBSCRIBE did not time out, so the case was not played:\n\(output.suffix(2000))")
        #expect(output.contains("SUBSCRIBED") && output.contains("GOT 0"), "\(output.suffix(3000))\nbroker:\n\(restarted.output().suffix(3000))")
    }
}
