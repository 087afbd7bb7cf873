import ClusterTesting
import Foundation
import Testing

/// `non-persistent://` topics with the real Python client through a real broker.
@Suite("Non-persistent topics", .timeLimit(.minutes(3)))
struct NonPersistentTopicTests {
    @Test func messagesReachWhoeverListensAndNoOneElse() async throws {
        let cluster = try await BrokerCluster.start(label: "non-persistent")
        defer { cluster.stop() }
        let result = try await cluster.python("non_persistent.py", [cluster.serviceURL, "http://127.0.0.1:\(cluster.httpPort)"])
        #expect(result.status == 0 && result.output.contains("OK"), "\(result.output.suffix(3000))\nbroker:\n\(cluster.broker.output().suffix(2000))")
        #expect(result.output.contains("SEEK"))
        #expect(result.output.contains("PARTITIONED"))
        // Nothing stays once no one uses the topics, and nothing was stored on bookies.
        #expect(try await cluster.http("GET", "/admin/v2/non-persistent/public/default").body == "[]")
        #expect(try await cluster.http("GET", "/admin/v2/non-persistent/public/default/np-events/stats").status == 404)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default").body == "[]")
        #expect(try await cluster.http("GET", "/admin/v2/non-persistent/public/ghost").status == 404)
    }
}
