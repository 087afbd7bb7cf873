import ClusterTesting
import Foundation
import Testing

@Suite("Broker and bookie crashes", .timeLimit(.minutes(4)))
struct BrokerAndBookieCrashTests {
    /// With the default 2/2/2 persistence over three bookies, the broker is SIGKILLed while
    /// a producer sends, and so is a bookie of the topic's current ledger. The restarted
    /// broker loads the topic (its recovery replaces the dead bookie) and every receipted
    /// message is consumed.
    @Test func everyReceiptedMessageSurvivesABrokerAndABookieKill() async throws {
        let cluster = try await BrokerCluster.start(label: "broker-and-bookie-kill")
        defer { cluster.stop() }
        let topic = "persistent://public/default/broker-and-bookie"
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        try await BrokerCrashTests.wait { receipted().count >= 1000 }
        let victim = try await BrokerCrashTests.bookieWriting(topic: "public/default/persistent/broker-and-bookie", metadataURL: cluster.bookies.metadataURL)
        cluster.broker.kill(SIGKILL)
        _ = try await cluster.broker.waitForExit()
        cluster.bookies.kill(cluster.bookies.ids.firstIndex(of: victim)!)
        let beforeRestart = receipted().count

        let restarted = try await cluster.startSecondBroker()
        defer { restarted.stop() }
        do {
            try await BrokerCrashTests.wait { receipted().count >= beforeRestart + 200 }
        } catch {
            Issue.record("the producer got no receipts from the restarted broker: \(restarted.output().suffix(1500))")
            return
        }
        producer.stop()
        let confirmed = Set(receipted())
        let consumed = Set(try await cluster.drain(topic))
        let missing = confirmed.subtracting(consumed)
        #expect(missing.isEmpty, "\(missing.count) receipted messages lost, e.g. \(missing.sorted().prefix(10))")
    }
}
