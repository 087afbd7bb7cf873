import ClusterTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Pulsar's admin REST API against a real broker: tenants, clusters, namespaces and
/// their policies, with the statuses and `{"reason": …}` bodies Pulsar's tools expect.
@Suite("Admin REST API", .timeLimit(.minutes(4)))
struct AdminRESTTests {
    static func json(_ body: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }

    @Test func tenantsClustersAndNamespaces() async throws {
        let cluster = try await BrokerCluster.start(label: "admin-tenants")
        defer { cluster.stop() }
        #expect(try await cluster.http("GET", "/admin/v2/clusters").body == #"["standalone"]"#)
        let clusterInfo = Self.json(try await cluster.http("GET", "/admin/v2/clusters/standalone").body) as? [String: String]
        #expect(clusterInfo?["brokerServiceUrl"]?.hasPrefix("pulsar://127.0.0.1:") == true, "\(String(describing: clusterInfo))")
        #expect(try await cluster.http("GET", "/admin/v2/clusters/elsewhere").status == 404)

        #expect(try await cluster.http("GET", "/admin/v2/tenants").body == #"["public"]"#)
        #expect(try await cluster.http("GET", "/admin/v2/tenants/acme").status == 404)
        let created = try await cluster.http("PUT", "/admin/v2/tenants/acme", body: #"{"adminRoles":["ops"],"allowedClusters":["standalone"]}"#)
        #expect(created.status == 204, "\(created)")
        let again = try await cluster.http("PUT", "/admin/v2/tenants/acme", body: "{}")
        #expect(again.status == 409, "\(again)")
        #expect(try await cluster.http("PUT", "/admin/v2/tenants/bad", body: "{nope").status == 400)
        let unknownCluster = try await cluster.http("PUT", "/admin/v2/tenants/other", body: #"{"allowedClusters":["mars"]}"#)
        #expect(unknownCluster.status == 412 && BrokerHTTPTests.reason(unknownCluster.body)?.contains("mars") == true, "\(unknownCluster)")
        #expect(try await cluster.http("GET", "/admin/v2/tenants/acme").body == #"{"adminRoles":["ops"],"allowedClusters":["standalone"]}"#)
        #expect(try await cluster.http("POST", "/admin/v2/tenants/acme", body: #"{"adminRoles":["ops","dev"],"allowedClusters":["standalone"]}"#).status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/tenants/acme").body.contains("dev"))
        #expect(try await cluster.http("POST", "/admin/v2/tenants/ghost", body: "{}").status == 404)
        #expect(try await cluster.http("GET", "/admin/v2/tenants").body == #"["acme","public"]"#)

        // Namespaces live in tenants; a non-empty one is deleted only with force.
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/ghost/ns").status == 404)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/ghost").status == 404)
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/acme/orders").status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/acme").body == #"["acme/orders"]"#)
        let busy = try await cluster.http("DELETE", "/admin/v2/tenants/acme")
        #expect(busy.status == 412 && BrokerHTTPTests.reason(busy.body)?.contains("orders") == true, "\(busy)")
        #expect(try await cluster.http("PUT", "/admin/v2/persistent/acme/orders/t1").status == 204)
        #expect(try await cluster.http("PUT", "/admin/v2/persistent/acme/orders/t1").status == 409)
        let nonEmpty = try await cluster.http("DELETE", "/admin/v2/namespaces/acme/orders")
        #expect(nonEmpty.status == 412, "\(nonEmpty)")
        #expect(try await cluster.http("DELETE", "/admin/v2/namespaces/acme/orders?force=true").status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/acme/orders").status == 404)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/acme/orders/t1/stats").status == 404)
        #expect(try await cluster.http("DELETE", "/admin/v2/tenants/acme").status == 204)
        #expect(try await cluster.http("DELETE", "/admin/v2/tenants/acme").status == 404)
        #expect(try await cluster.http("GET", "/admin/v2/tenants").body == #"["public"]"#)
    }

    @Test func namespacePoliciesAreSetReadAndRemoved() async throws {
        let cluster = try await BrokerCluster.start(label: "admin-policies")
        defer { cluster.stop() }
        let base = "/admin/v2/namespaces/public/default"
        // Not set: 204 with no body.
        for policy in ["retention", "messageTTL", "deduplication", "autoTopicCreation"] {
            #expect(try await cluster.http("GET", "\(base)/\(policy)").status == 204, "\(policy)")
        }
        let cases: [(String, String, String)] = [
            ("retention", #"{"retentionSizeInMB":1024,"retentionTimeInMinutes":60}"#, #"{"retentionSizeInMB":-2,"retentionTimeInMinutes":60}"#),
            ("messageTTL", "3600", "-5"),
            ("deduplication", "true", ""),
            ("autoTopicCreation", #"{"allowAutoTopicCreation":true,"defaultNumPartitions":4,"topicType":"partitioned"}"#, #"{"allowAutoTopicCreation":true,"topicType":"partitioned"}"#),
        ]
        for (policy, good, bad) in cases {
            let set = try await cluster.http("POST", "\(base)/\(policy)", body: good)
            #expect(set.status == 204, "\(policy): \(set)")
            #expect(try await cluster.http("GET", "\(base)/\(policy)").body == good, "\(policy)")
            if !bad.isEmpty { #expect(try await cluster.http("POST", "\(base)/\(policy)", body: bad).status == 412, "\(policy)") }
            #expect(try await cluster.http("POST", "\(base)/\(policy)", body: "{oops").status == 400, "\(policy)")
        }
        // All of them show in the namespace's policies, under Pulsar's names.
        let policies = Self.json(try await cluster.http("GET", base).body) as? [String: Any]
        #expect(policies?["message_ttl_in_seconds"] as? Int == 3600)
        #expect(policies?["deduplicationEnabled"] as? Bool == true)
        #expect((policies?["retention_policies"] as? [String: Int])?["retentionSizeInMB"] == 1024)
        for (policy, _, _) in cases {
            #expect(try await cluster.http("DELETE", "\(base)/\(policy)").status == 204)
            #expect(try await cluster.http("GET", "\(base)/\(policy)").status == 204, "\(policy) removed")
        }

        let quota = #"{"limitSize":1048576,"limitTime":-1,"policy":"producer_exception"}"#
        #expect(try await cluster.http("POST", "\(base)/backlogQuota?backlogQuotaType=destination_storage", body: quota).status == 204)
        #expect(try await cluster.http("GET", "\(base)/backlogQuotaMap").body == #"{"destination_storage":\#(quota)}"#)
        let badPolicy = try await cluster.http("POST", "\(base)/backlogQuota", body: #"{"limitSize":1,"policy":"drop_everything"}"#)
        #expect(badPolicy.status == 412, "\(badPolicy)")
        #expect(try await cluster.http("POST", "\(base)/backlogQuota?backlogQuotaType=weekly", body: quota).status == 412)
        #expect(try await cluster.http("DELETE", "\(base)/backlogQuota?backlogQuotaType=destination_storage").status == 204)
        #expect(try await cluster.http("GET", "\(base)/backlogQuotaMap").body == "{}")

        #expect(try await cluster.http("DELETE", "\(base)/storageCompression").status == 204)
        #expect(try await cluster.http("GET", "\(base)/storageCompression").body == #""lz4""#, "the broker's default again")
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/public/none/retention").status == 404)
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/none/messageTTL", body: "5").status == 404)
    }
}

extension AdminRESTTests {
    /// A topic whose producers or consumers are connected is deleted only with force,
    /// which disconnects them; the bookies are listed with their state and rack.
    @Test func deletingABusyTopicNeedsForceAndBookiesAreListed() async throws {
        let cluster = try await BrokerCluster.start(label: "admin-busy")
        defer { cluster.stop() }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        let consumer = try ChildProcess(
            try PythonClient.interpreter(), [scripts.appendingPathComponent("keep_consuming.py").path, cluster.serviceURL, "busy"],
            logPath: cluster.directory.file("consumer.log")
        )
        defer { consumer.stop() }
        let topic = "/admin/v2/persistent/public/default/busy"
        let deadline = ContinuousClock.now + .seconds(30)
        while try await cluster.http("GET", "\(topic)/subscriptions").body != #"["tail"]"#, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        let refused = try await cluster.http("DELETE", topic)
        #expect(refused.status == 412 && BrokerHTTPTests.reason(refused.body)?.contains("force") == true, "\(refused)")
        let busySubscription = try await cluster.http("DELETE", "\(topic)/subscription/tail")
        #expect(busySubscription.status == 412, "\(busySubscription)")
        #expect(try await cluster.http("DELETE", "\(topic)?force=true").status == 204)

        let bookies = Self.json(try await cluster.http("GET", "/admin/v2/bookies/all").body) as? [String: [[String: String]]]
        #expect(bookies?["bookies"]?.count == 3, "\(String(describing: bookies))")
        #expect(bookies?["bookies"]?.allSatisfy { $0["state"] == "writable" && $0["rack"] != nil && $0["bookieId"] != nil } == true)
        let racks = Self.json(try await cluster.http("GET", "/admin/v2/bookies/racks-info").body) as? [String: [String: [String: String]]]
        #expect(racks?["default"]?.count == 3, "\(String(describing: racks))")
    }
}
