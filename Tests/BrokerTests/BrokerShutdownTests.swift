import ClusterTesting
import Foundation
import Testing

@Suite("Broker shutdown", .timeLimit(.minutes(3)))
struct BrokerShutdownTests {
    /// SIGTERM to a broker under load: it stops within a few seconds and closes its
    /// ledgers, so the next owner of the topic needs no recovery.
    @Test func sigtermStopsABusyBrokerAndClosesItsLedgers() async throws {
        let cluster = try await BrokerCluster.start(label: "broker-sigterm")
        defer { cluster.stop() }
        let topic = "persistent://public/default/sigterm"
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        try await BrokerCrashTests.wait { BrokerCluster.numbers(in: producer.output(), prefix: "R ").count >= 300 }

        let signalled = ContinuousClock.now
        cluster.broker.kill(SIGTERM)
        let status = try? await cluster.broker.waitForExit(timeout: .seconds(20))
        let took = ContinuousClock.now - signalled
        print("broker-sigterm: SIGTERM to exit took \(took) with a producer publishing")
        #expect(status == 0, "the broker exited cleanly on SIGTERM (status \(String(describing: status)), after \(took)); its log ends:\n\(cluster.broker.output().suffix(1500))")
        #expect(took < .seconds(10), "the broker stopped within a few seconds: \(took)")
        let ledger = try await BrokerCrashTests.currentLedger(topic: "public/default/persistent/sigterm", metadataURL: cluster.bookies.metadataURL)
        #expect(ledger["state"] as? String == "CLOSED", "the topic's ledger was closed: \(ledger)")
    }
}
