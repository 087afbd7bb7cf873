import ClusterTesting
import Foundation
import Testing

extension MultiBrokerTests {
    /// The admin API of a cluster: any broker answers for any topic (the others redirect
    /// to its owner), partitioned stats gather partitions from every broker, and a
    /// namespace deleted with force goes from every broker that served it.
    @Test func adminRequestsReachTheOwnerOfEachTopic() async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-admin", metadata: .sqlite, brokers: 2, arguments: Self.arguments)
        defer { fleet.stop() }
        #expect(try await fleet.request("PUT", 0, "/admin/v2/namespaces/public/spread", body: #"{"bundles":{"numBundles":8}}"#).status == 204)
        let topic = "persistent://public/spread/p"
        #expect(try await fleet.request("PUT", 0, "/admin/v2/persistent/public/spread/p/partitions", body: "8").status == 204)
        // Asked of either broker before any partition is owned: the leader places each
        // bundle, its redirect carrying the placement (no redirect loop), and the stats are empty.
        for asking in [1, 0] {
            let stats = try await fleet.get(asking, "/admin/v2/persistent/public/spread/p/partitioned-stats")
            #expect(stats.status == 200 && stats.body.contains("\"msgInCounter\":0"), "\(stats)")
        }
        let produced = try await fleet.python("partitioned.py", [fleet.serviceURL, topic, "80"])
        #expect(produced.status == 0, "\(produced.output)")
        // Eight partitions over eight bundles: both brokers serve some.
        var owners: Set<Int> = []
        for index in 0..<8 { owners.insert(try await Self.owner(fleet, "public/spread/p-partition-\(index)")) }
        #expect(owners == [0, 1], "partitions served by \(owners)")
        for asking in 0..<2 {
            let stats = try await fleet.get(asking, "/admin/v2/persistent/public/spread/p/partitioned-stats")
            let object = try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any]
            #expect(stats.status == 200 && object?["msgInCounter"] as? Int == 80, "\(stats)")
            for index in 0..<8 {
                let partition = try await fleet.get(asking, "/admin/v2/persistent/public/spread/p-partition-\(index)/stats")
                #expect(partition.status == 200 && partition.body.contains("\"parts\""), "partition \(index) asked of broker \(asking): \(partition)")
            }
        }
        let refused = try await fleet.request("DELETE", 1, "/admin/v2/namespaces/public/spread")
        #expect(refused.status == 412, "\(refused)")
        #expect(try await fleet.request("DELETE", 1, "/admin/v2/namespaces/public/spread?force=true").status == 204)
        #expect(try await fleet.get(0, "/admin/v2/namespaces/public").body == #"["public/default"]"#)
        #expect(try await fleet.get(0, "/admin/v2/persistent/public/spread/p-partition-0/stats").status == 404)
    }

    /// The broker serving `topic` (`tenant/namespace/local`), by HTTP lookup at broker 0.
    static func owner(_ fleet: BrokerFleet, _ topic: String) async throws -> Int {
        let (status, body) = try await fleet.get(0, "/lookup/v2/topic/persistent/\(topic)")
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        guard status == 200, let url = object?["brokerUrl"] as? String, let owner = fleet.index(ofServiceURL: url) else {
            throw TestHarnessError("lookup of \(topic): \(status) \(body)")
        }
        return owner
    }
}
