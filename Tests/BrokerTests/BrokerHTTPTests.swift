import ClusterTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The broker's HTTP server as a client sees it: health checks, Prometheus metrics, and
/// `{"reason": …}` answers to requests it refuses.
@Suite("Broker HTTP", .timeLimit(.minutes(3)))
struct BrokerHTTPTests {
    /// Numbers and names no cluster can honour, each of which once stopped a broker,
    /// stored a policy every topic then failed on, or a name that reads as a path: each
    /// is refused with 412.
    static let unhonourable: [(method: String, path: String, body: String)] = [
        ("PUT", "/admin/v2/persistent/public/default/p/partitions", "4294967296"),
        ("PUT", "/admin/v2/persistent/public/default/p/partitions", "1000000000"),
        ("POST", "/admin/v2/namespaces/public/default/messageTTL", "2000000000000"),
        ("POST", "/admin/v2/namespaces/public/default/retention", #"{"retentionTimeInMinutes":9223372036854775807,"retentionSizeInMB":1}"#),
        ("POST", "/admin/v2/namespaces/public/default/persistence", #"{"bookkeeperEnsemble":1000,"bookkeeperWriteQuorum":2,"bookkeeperAckQuorum":2}"#),
        ("PUT", "/admin/v2/tenants/%2E%2E", #"{"adminRoles":[],"allowedClusters":["standalone"]}"#),
        ("PUT", "/admin/v2/persistent/public/default/a%0Ab/partitions", "2"),
        ("PUT", "/admin/v2/persistent/public/default/a%252Fb/partitions", "2"),
        ("PUT", "/admin/v2/persistent/public/default/sub/subscription/%2E%2E", ""),
    ]

    @Test func healthMetricsAndRefusals() async throws {
        let cluster = try await BrokerCluster.start(label: "http")
        defer { cluster.stop() }

        for path in ["/admin/v2/brokers/health", "/health"] {
            let health = try await cluster.http("GET", path)
            #expect(health.status == 200 && health.body == "ok", "\(path): \(health)")
        }

        // Malformed bodies: not JSON at all, a policy that breaks the quorum rules, a
        // partition count that is no number.
        let notJSON = try await cluster.http("POST", "/admin/v2/namespaces/public/default/persistence", body: "{three")
        #expect(notJSON.status == 400)
        #expect(
            Self.reason(notJSON.body)
                == "the body is not persistence policies (bookkeeperEnsemble, bookkeeperWriteQuorum, bookkeeperAckQuorum)"
        )
        let quorum = "{\"bookkeeperEnsemble\":2,\"bookkeeperWriteQuorum\":3,\"bookkeeperAckQuorum\":1}"
        let refused = try await cluster.http("POST", "/admin/v2/namespaces/public/default/persistence", body: quorum)
        #expect(refused.status == 412 && Self.reason(refused.body) != nil, "\(refused)")
        let partitions = try await cluster.http("PUT", "/admin/v2/persistent/public/default/p/partitions", body: "many")
        #expect(partitions.status == 412)
        #expect(Self.reason(partitions.body) == "the body must be a number of partitions above 0")
        for (method, path, body) in Self.unhonourable {
            let answer = try await cluster.http(method, path, body: body)
            #expect(answer.status == 412 && Self.reason(answer.body) != nil, "\(method) \(path) \(body): \(answer)")
        }
        let ttl = try await cluster.http("GET", "/admin/v2/namespaces/public/default/messageTTL")
        #expect(ttl.status != 200 || !ttl.body.contains("2000000000000"), "the refused TTL was not stored: \(ttl)")
        let compression = try await cluster.http("POST", "/admin/v2/namespaces/public/default/storageCompression", body: "\"gzip\"")
        #expect(compression.status == 412 && Self.reason(compression.body) != nil, "\(compression)")
        let missing = try await cluster.http("GET", "/admin/v2/no/such/route")
        #expect(missing.status == 404 && Self.reason(missing.body) == "No route for /admin/v2/no/such/route")

        // Lookup names the HTTP port the broker bound.
        let lookup = try await cluster.http("GET", "/lookup/v2/topic/persistent/public/default/t")
        #expect(lookup.status == 200 && lookup.body.contains("\"httpUrl\":\"http://127.0.0.1:\(cluster.httpPort)\""), "\(lookup)")

        // The requests above were counted, by route and status.
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(cluster.httpPort)/metrics")!)
        request.httpMethod = "GET"
        let (data, response) = try await URLSession.shared.data(for: request)
        let metrics = String(decoding: data, as: UTF8.self)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect((response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.contains("# TYPE hb_requests counter"), "\(metrics.prefix(3000))")
        let counted = metrics.split(separator: "\n").filter {
            $0.hasPrefix("hb_requests{") && $0.contains("persistence") && $0.contains("\"412\"")
        }
        #expect(!counted.isEmpty, "\(metrics.prefix(3000))")
        #expect(metrics.contains("http_server_request_duration_bucket"), "\(metrics.prefix(3000))")
    }

    /// The `reason` of a `{"reason": …}` body, nil for any other body.
    static func reason(_ body: String) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        guard let object, object.count == 1 else { return nil }
        return object["reason"] as? String
    }
}
