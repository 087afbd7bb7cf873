import ClusterTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension AdminRESTTests {
    /// A known workload (200 messages published, a subscription made at the start), then
    /// every topic and subscription route: stats and internal stats count what was done,
    /// skip / clear-backlog / reset-cursor / expire move the backlog as asked, peek and
    /// examine return the stored messages, and /metrics carries the same figures under
    /// Pulsar's names.
    @Test func topicsAndSubscriptions() async throws {
        let cluster = try await BrokerCluster.start(label: "admin-topics")
        defer { cluster.stop() }
        let topic = "/admin/v2/persistent/public/default/orders"
        #expect(try await cluster.http("GET", "\(topic)/stats").status == 404)
        #expect(try await cluster.http("PUT", topic).status == 204)
        #expect(try await cluster.http("PUT", "\(topic)/subscription/audit", body: #"{"ledgerId":-1,"entryId":-1}"#).status == 204)
        #expect(try await cluster.http("PUT", "\(topic)/subscription/audit").status == 409)
        #expect(try await cluster.http("PUT", "\(topic)/subscription/x", body: "{bad").status == 400)
        let produced = try await cluster.python("produce_then_consume.py", [cluster.serviceURL, "persistent://public/default/orders", "produce", "200"])
        #expect(produced.status == 0, "\(produced.output)")

        #expect(try await cluster.http("GET", "\(topic)/subscriptions").body == #"["audit","check"]"#)
        func backlog() async throws -> Int? {
            let stats = Self.json(try await cluster.http("GET", "\(topic)/stats").body) as? [String: Any]
            return ((stats?["subscriptions"] as? [String: Any])?["audit"] as? [String: Any])?["msgBacklog"] as? Int
        }
        let stats = Self.json(try await cluster.http("GET", "\(topic)/stats").body) as? [String: Any]
        #expect(stats?["msgInCounter"] as? Int == 200, "\(String(describing: stats))")
        #expect((stats?["storageSize"] as? Int ?? 0) > 0)
        #expect((stats?["backlogSize"] as? Int ?? 0) > 0)
        #expect(stats?["publishers"] as? [Any] != nil && stats?["deduplicationStatus"] as? String == "Disabled")
        #expect(try await backlog() == 200)

        let inside = Self.json(try await cluster.http("GET", "\(topic)/internalStats").body) as? [String: Any]
        #expect(inside?["numberOfEntries"] as? Int == 200, "\(String(describing: inside))")
        #expect((inside?["ledgers"] as? [[String: Any]])?.isEmpty == false)
        let cursor = (inside?["cursors"] as? [String: Any])?["audit"] as? [String: Any]
        #expect(cursor?["markDeletePosition"] as? String != nil && cursor?["individuallyDeletedMessages"] as? String == "[]", "\(String(describing: cursor))")
        let last = Self.json(try await cluster.http("GET", "\(topic)/lastMessageId").body) as? [String: Int]
        #expect(last?["entryId"] != nil && last?["partitionIndex"] == -1, "\(String(describing: last))")

        // Peek the first message of the backlog, examine the earliest and the latest.
        let first = try await Self.message(cluster, "\(topic)/subscription/audit/position/1")
        #expect(first.status == 200 && first.body == "m0" && first.id != nil, "\(first)")
        #expect(try await Self.message(cluster, "\(topic)/examinemessage?initialPosition=earliest&messagePosition=1").body == "m0")
        #expect(try await Self.message(cluster, "\(topic)/examinemessage?initialPosition=latest&messagePosition=1").body == "m199")
        #expect(try await Self.message(cluster, "\(topic)/subscription/audit/position/500").status == 404)

        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/skip/10").status == 204)
        #expect(try await backlog() == 190)
        #expect(try await Self.message(cluster, "\(topic)/subscription/audit/position/1").body == "m10")
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/skip_all").status == 204)
        #expect(try await backlog() == 0)
        // Back to the first message by its id, then forward by time.
        let id = try #require(first.id?.split(separator: ":").compactMap { Int($0) })
        let reset = try await cluster.http("POST", "\(topic)/subscription/audit/resetcursor", body: #"{"ledgerId":\#(id[0]),"entryId":\#(id[1])}"#)
        #expect(reset.status == 204, "\(reset)")
        #expect(try await backlog() == 200)
        let future = Int(Date().timeIntervalSince1970 * 1000) + 60_000
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/resetcursor/\(future)").status == 204)
        #expect(try await backlog() == 0)
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/resetcursor/0").status == 204)
        #expect(try await backlog() == 200)
        // Everything is older than 0 seconds: all expires.
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/expireMessages/0").status == 204)
        #expect(try await backlog() == 0)
        #expect(try await cluster.http("POST", "\(topic)/subscription/nobody/skip/1").status == 404)
        // Bad numbers are refused, not trusted.
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/expireMessages/99999999999999999").status == 412)
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/skip/-3").status == 412)
        #expect(try await cluster.http("GET", "\(topic)/examinemessage?initialPosition=earliest&messagePosition=first").status == 412)
        #expect(try await cluster.http("GET", "\(topic)/examinemessage?initialPosition=middle").status == 412)
        #expect(try await cluster.http("POST", "\(topic)/subscription/audit/resetcursor/yesterday").status == 412)

        // The same figures under Pulsar's metric names.
        let metrics = try await cluster.http("GET", "/metrics").body
        let labels = #"{cluster="standalone",namespace="public/default",topic="persistent://public/default/orders"}"#
        #expect(metrics.contains("pulsar_in_messages_total\(labels) 200"), "\(metrics.suffix(4000))")
        #expect(metrics.contains("pulsar_subscriptions_count\(labels) 2"))
        #expect(metrics.contains("pulsar_entry_size_count\(labels) 200"))
        #expect(metrics.contains("pulsar_storage_write_latency_count\(labels) 200"))
        #expect(metrics.contains(#"pulsar_subscription_back_log{cluster="standalone",namespace="public/default",topic="persistent://public/default/orders",subscription="audit"} 0"#))
        #expect(metrics.contains(#"pulsar_version_info{cluster="standalone""#))
        #expect(metrics.contains(#"pulsar_topics_count{cluster="standalone",namespace="public/default"} 1"#))

        // Terminated: it answers its last message id, and takes no more messages.
        let terminated = Self.json(try await cluster.http("POST", "\(topic)/terminate").body) as? [String: Int]
        #expect(terminated == last, "\(String(describing: terminated))")
        let late = try await cluster.python("produce_then_consume.py", [cluster.serviceURL, "persistent://public/default/orders", "produce", "1"])
        #expect(late.status != 0 && late.output.contains("TopicTerminated"), "\(late.output.suffix(500))")

        // Listed; deleted (no producer or consumer is connected).
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default").body.contains("persistent://public/default/orders"))
        #expect(try await cluster.http("DELETE", "\(topic)/subscription/audit").status == 204)
        #expect(try await cluster.http("DELETE", "\(topic)/subscription/audit").status == 404)
        #expect(try await cluster.http("DELETE", topic).status == 204)
        #expect(try await cluster.http("GET", "\(topic)/stats").status == 404)
        #expect(try await cluster.http("DELETE", topic).status == 404)
    }

    @Test func partitionedTopics() async throws {
        let cluster = try await BrokerCluster.start(label: "admin-partitioned")
        defer { cluster.stop() }
        let topic = "/admin/v2/persistent/public/default/p"
        #expect(try await cluster.http("PUT", "\(topic)/partitions", body: "2").status == 204)
        #expect(try await cluster.http("POST", "\(topic)/partitions", body: "1").status == 412)
        #expect(try await cluster.http("POST", "\(topic)/partitions", body: "3").status == 204)
        #expect(try await cluster.http("GET", "\(topic)/partitions").body == #"{"partitions":3}"#)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default/partitioned").body == #"["persistent://public/default/p"]"#)
        // Its partitions are listed, and have stats, before anyone used them.
        let listed = try await cluster.http("GET", "/admin/v2/persistent/public/default").body
        #expect(listed == #"["persistent://public/default/p-partition-0","persistent://public/default/p-partition-1","persistent://public/default/p-partition-2"]"#, "\(listed)")
        #expect(try await cluster.http("GET", "\(topic)/partitioned-stats").status == 200)
        #expect(try await cluster.http("GET", "\(topic)-partition-3/stats").status == 404)
        let produced = try await cluster.python("partitioned.py", [cluster.serviceURL, "persistent://public/default/p", "30"])
        #expect(produced.status == 0, "\(produced.output)")
        let stats = Self.json(try await cluster.http("GET", "\(topic)/partitioned-stats").body) as? [String: Any]
        #expect(stats?["msgInCounter"] as? Int == 30, "\(String(describing: stats))")
        #expect((stats?["metadata"] as? [String: Int])?["partitions"] == 3)
        #expect((stats?["partitions"] as? [String: Any])?.count == 3)
        #expect(try await cluster.http("DELETE", "\(topic)/partitions?force=true").status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default/partitioned").body == "[]")
        #expect(try await cluster.http("GET", "\(topic)/partitioned-stats").status == 404)
    }

    /// A message route's answer: status, payload as text, and its `X-Pulsar-Message-ID`.
    static func message(_ cluster: BrokerCluster, _ path: String) async throws -> (status: Int, body: String, id: String?) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(cluster.httpPort)\(path)")!)
        let http = response as? HTTPURLResponse
        return (http?.statusCode ?? 0, String(decoding: data, as: UTF8.self), http?.value(forHTTPHeaderField: "X-Pulsar-Message-ID"))
    }
}
