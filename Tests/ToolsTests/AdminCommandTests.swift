import ArgumentParser
import Foundation
import Testing

@testable import magnetar

/// Every `magnetar admin` command family parsed as a user would type it, and the
/// request it builds checked without a server.
@Suite struct AdminCommandTests {
    /// The request `magnetar admin <arguments>` sends.
    static func request(_ arguments: [String]) throws -> AdminRequest {
        let command = try Magnetar.parseAsRoot(["admin"] + arguments)
        if let examine = command as? Admin.Topics.ExamineMessage { return try examine.request() }
        let admin = try #require(command as? any AdminCommand, "\(arguments) is not a one-request command")
        return try admin.request()
    }

    /// `request(arguments)` is `method target` with `body` (compact JSON, keys sorted).
    static func check(_ arguments: [String], _ method: String, _ target: String, body: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let request = try Self.request(arguments)
        #expect(request.method == method, "\(arguments)", sourceLocation: sourceLocation)
        #expect(request.target == target, "\(arguments)", sourceLocation: sourceLocation)
        #expect(request.body?.text == body, "\(arguments)", sourceLocation: sourceLocation)
    }

    @Test func clustersAndBrokersAndBookies() throws {
        try Self.check(["clusters", "list"], "GET", "/admin/v2/clusters")
        try Self.check(["clusters", "get", "standalone"], "GET", "/admin/v2/clusters/standalone")
        try Self.check(["brokers", "list", "standalone"], "GET", "/admin/v2/brokers/standalone")
        try Self.check(["brokers", "leader-broker"], "GET", "/admin/v2/brokers/leaderBroker")
        try Self.check(
            ["brokers", "namespaces", "standalone", "--url", "http://127.0.0.1:8080/"], "GET",
            "/admin/v2/brokers/standalone/127.0.0.1:8080/ownedNamespaces"
        )
        try Self.check(["brokers", "healthcheck"], "GET", "/admin/v2/brokers/health")
        try Self.check(["bookies", "list-bookies"], "GET", "/admin/v2/bookies/all")
        try Self.check(["bookies", "racks-placement"], "GET", "/admin/v2/bookies/racks-info")
    }

    @Test func tenants() throws {
        try Self.check(["tenants", "list"], "GET", "/admin/v2/tenants")
        try Self.check(["tenants", "get", "acme"], "GET", "/admin/v2/tenants/acme")
        try Self.check(["tenants", "delete", "acme"], "DELETE", "/admin/v2/tenants/acme")
        try Self.check(["tenants", "delete", "acme", "--force"], "DELETE", "/admin/v2/tenants/acme?force=true")

        let given = try #require(try Magnetar.parseAsRoot(["admin", "tenants", "create", "acme", "-r", "ops, dev", "--allowed-clusters", "c1,c2"]) as? Admin.Tenants.Create)
        #expect(!given.needsClusters)
        let created = given.request(clusters: [])
        #expect(created.description == #"PUT /admin/v2/tenants/acme {"adminRoles":["ops","dev"],"allowedClusters":["c1","c2"]}"#)
        let all = try #require(try Magnetar.parseAsRoot(["admin", "tenants", "create", "acme"]) as? Admin.Tenants.Create)
        #expect(all.needsClusters)
        #expect(all.request(clusters: ["standalone", "east"]).body?.text == #"{"adminRoles":[],"allowedClusters":["standalone","east"]}"#)

        let update = try #require(try Magnetar.parseAsRoot(["admin", "tenants", "update", "acme", "-c", "east"]) as? Admin.Tenants.Update)
        #expect(update.needsCurrent)
        let updated = update.request(current: ["adminRoles": ["ops"], "allowedClusters": ["standalone"]])
        #expect(updated.description == #"POST /admin/v2/tenants/acme {"adminRoles":["ops"],"allowedClusters":["east"]}"#)
    }

    @Test func namespaces() throws {
        try Self.check(["namespaces", "list", "public"], "GET", "/admin/v2/namespaces/public")
        try Self.check(["namespaces", "create", "public/ops"], "PUT", "/admin/v2/namespaces/public/ops")
        try Self.check(["namespaces", "create", "public/ops", "--bundles", "8"], "PUT", "/admin/v2/namespaces/public/ops", body: #"{"bundles":{"numBundles":8}}"#)
        try Self.check(
            ["namespaces", "create", "public/ops", "-b", "2", "-c", "standalone"], "PUT", "/admin/v2/namespaces/public/ops",
            body: #"{"bundles":{"numBundles":2},"replication_clusters":["standalone"]}"#
        )
        try Self.check(["namespaces", "delete", "public/ops", "-f"], "DELETE", "/admin/v2/namespaces/public/ops?force=true")
        try Self.check(["namespaces", "policies", "public/ops"], "GET", "/admin/v2/namespaces/public/ops")
        try Self.check(["namespaces", "topics", "public/ops"], "GET", "/admin/v2/namespaces/public/ops/topics")
        try Self.check(["namespaces", "bundles", "public/ops"], "GET", "/admin/v2/namespaces/public/ops/bundles")
        try Self.check(["namespaces", "unload", "public/ops"], "PUT", "/admin/v2/namespaces/public/ops/unload")
        try Self.check(
            ["namespaces", "unload", "public/ops", "--bundle", "0x00000000_0x80000000"], "PUT",
            "/admin/v2/namespaces/public/ops/0x00000000_0x80000000/unload"
        )
        try Self.check(
            ["namespaces", "split-bundle", "public/ops", "-b", "0x00000000_0xffffffff", "--unload"], "PUT",
            "/admin/v2/namespaces/public/ops/0x00000000_0xffffffff/split?unload=true"
        )
        #expect(throws: AdminError.self) { try Self.request(["namespaces", "create", "ops"]) }
        #expect(throws: AdminError.self) { try Self.request(["namespaces", "create", "public/ops/x"]) }
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "namespaces", "split-bundle", "public/ops"]) }
    }

    @Test func namespacePolicies() throws {
        let ns = "/admin/v2/namespaces/public/ops"
        try Self.check(
            ["namespaces", "set-persistence", "public/ops", "-e", "3", "-w", "2", "-a", "2", "-r", "1.5"], "POST", "\(ns)/persistence",
            body: #"{"bookkeeperAckQuorum":2,"bookkeeperEnsemble":3,"bookkeeperWriteQuorum":2,"managedLedgerMaxMarkDeleteRate":1.5}"#
        )
        try Self.check(
            ["namespaces", "set-persistence", "public/ops", "--bookkeeper-ensemble", "1", "--bookkeeper-write-quorum", "1", "--bookkeeper-ack-quorum", "1"],
            "POST", "\(ns)/persistence",
            body: #"{"bookkeeperAckQuorum":1,"bookkeeperEnsemble":1,"bookkeeperWriteQuorum":1,"managedLedgerMaxMarkDeleteRate":0.0}"#
        )
        try Self.check(["namespaces", "get-persistence", "public/ops"], "GET", "\(ns)/persistence")
        try Self.check(["namespaces", "remove-persistence", "public/ops"], "DELETE", "\(ns)/persistence")

        try Self.check(
            ["namespaces", "set-retention", "public/ops", "--time", "3h", "--size", "10M"], "POST", "\(ns)/retention",
            body: #"{"retentionSizeInMB":10,"retentionTimeInMinutes":180}"#
        )
        try Self.check(
            ["namespaces", "set-retention", "public/ops", "-t", "-1", "-s", "-1"], "POST", "\(ns)/retention",
            body: #"{"retentionSizeInMB":-1,"retentionTimeInMinutes":-1}"#
        )
        try Self.check(["namespaces", "get-retention", "public/ops"], "GET", "\(ns)/retention")
        try Self.check(["namespaces", "remove-retention", "public/ops"], "DELETE", "\(ns)/retention")

        try Self.check(["namespaces", "set-message-ttl", "public/ops", "-ttl", "3600"], "POST", "\(ns)/messageTTL", body: "3600")
        try Self.check(["namespaces", "set-message-ttl", "public/ops", "--messageTTL", "2h"], "POST", "\(ns)/messageTTL", body: "7200")
        try Self.check(["namespaces", "get-message-ttl", "public/ops"], "GET", "\(ns)/messageTTL")
        try Self.check(["namespaces", "remove-message-ttl", "public/ops"], "DELETE", "\(ns)/messageTTL")

        try Self.check(
            ["namespaces", "set-backlog-quota", "public/ops", "-l", "10M", "-p", "producer_request_hold"], "POST",
            "\(ns)/backlogQuota?backlogQuotaType=destination_storage",
            body: #"{"limitSize":10485760,"limitTime":-1,"policy":"producer_request_hold"}"#
        )
        try Self.check(
            ["namespaces", "set-backlog-quota", "public/ops", "-lt", "1h", "--policy", "consumer_backlog_eviction", "-t", "message_age"], "POST",
            "\(ns)/backlogQuota?backlogQuotaType=message_age",
            body: #"{"limitSize":-1,"limitTime":3600,"policy":"consumer_backlog_eviction"}"#
        )
        #expect(throws: AdminError.self) { try Self.request(["namespaces", "set-backlog-quota", "public/ops", "-lt", "60", "-p", "producer_exception"]) }
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "namespaces", "set-backlog-quota", "public/ops", "-l", "1M", "-p", "drop"]) }
        try Self.check(["namespaces", "get-backlog-quotas", "public/ops"], "GET", "\(ns)/backlogQuotaMap")
        try Self.check(["namespaces", "remove-backlog-quota", "public/ops"], "DELETE", "\(ns)/backlogQuota?backlogQuotaType=destination_storage")
        try Self.check(
            ["namespaces", "remove-backlog-quota", "public/ops", "--type", "message_age"], "DELETE", "\(ns)/backlogQuota?backlogQuotaType=message_age"
        )

        try Self.check(["namespaces", "set-deduplication", "public/ops", "--enable"], "POST", "\(ns)/deduplication", body: "true")
        try Self.check(["namespaces", "set-deduplication", "public/ops", "-d"], "POST", "\(ns)/deduplication", body: "false")
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "namespaces", "set-deduplication", "public/ops"]) }
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "namespaces", "set-deduplication", "public/ops", "-e", "-d"]) }
        try Self.check(["namespaces", "get-deduplication", "public/ops"], "GET", "\(ns)/deduplication")
        try Self.check(["namespaces", "remove-deduplication", "public/ops"], "DELETE", "\(ns)/deduplication")

        try Self.check(["namespaces", "set-storage-compression", "public/ops", "-c", "lz4"], "POST", "\(ns)/storageCompression", body: #""lz4""#)
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "namespaces", "set-storage-compression", "public/ops", "-c", "gzip"]) }
        try Self.check(["namespaces", "get-storage-compression", "public/ops"], "GET", "\(ns)/storageCompression")
        try Self.check(["namespaces", "remove-storage-compression", "public/ops"], "DELETE", "\(ns)/storageCompression")

        try Self.check(
            ["namespaces", "set-auto-topic-creation", "public/ops", "-e", "-t", "partitioned", "-n", "4"], "POST", "\(ns)/autoTopicCreation",
            body: #"{"allowAutoTopicCreation":true,"defaultNumPartitions":4,"topicType":"partitioned"}"#
        )
        try Self.check(
            ["namespaces", "set-auto-topic-creation", "public/ops", "--enable"], "POST", "\(ns)/autoTopicCreation",
            body: #"{"allowAutoTopicCreation":true,"topicType":"non-partitioned"}"#
        )
        try Self.check(
            ["namespaces", "set-auto-topic-creation", "public/ops", "--disable"], "POST", "\(ns)/autoTopicCreation",
            body: #"{"allowAutoTopicCreation":false}"#
        )
        #expect(throws: AdminError.self) { try Self.request(["namespaces", "set-auto-topic-creation", "public/ops", "-e", "-t", "partitioned"]) }
        try Self.check(["namespaces", "get-auto-topic-creation", "public/ops"], "GET", "\(ns)/autoTopicCreation")
        try Self.check(["namespaces", "remove-auto-topic-creation", "public/ops"], "DELETE", "\(ns)/autoTopicCreation")
    }

    @Test func topics() throws {
        let t = "/admin/v2/persistent/public/default/t"
        try Self.check(["topics", "create", "t"], "PUT", t)
        try Self.check(["topics", "create", "persistent://public/default/t", "0"], "PUT", t)
        try Self.check(["topics", "create", "public/default/t", "4"], "PUT", "\(t)/partitions", body: "4")
        try Self.check(["topics", "create-partitioned-topic", "t", "-p", "3"], "PUT", "\(t)/partitions", body: "3")
        try Self.check(["topics", "create-partitioned-topic", "t", "--partitions", "3"], "PUT", "\(t)/partitions", body: "3")
        try Self.check(
            ["topics", "create-partitioned-topic", "non-persistent://public/default/t", "-p", "2"], "PUT", "/admin/v2/non-persistent/public/default/t/partitions", body: "2"
        )
        #expect(throws: AdminError.self) { try Self.request(["topics", "create-partitioned-topic", "t", "-p", "0"]) }
        try Self.check(["topics", "update-partitioned-topic", "t", "-p", "6"], "POST", "\(t)/partitions", body: "6")
        try Self.check(["topics", "update", "t", "-p", "6"], "POST", "\(t)/partitions", body: "6")
        try Self.check(["topics", "get-partitioned-topic-metadata", "t"], "GET", "\(t)/partitions")
        try Self.check(["topics", "get", "t"], "GET", "\(t)/partitions")
        try Self.check(["topics", "list", "public/default"], "GET", "/admin/v2/persistent/public/default")
        try Self.check(["topics", "list-partitioned-topics", "public/default"], "GET", "/admin/v2/persistent/public/default/partitioned")
        try Self.check(["topics", "delete", "t"], "DELETE", t)
        try Self.check(["topics", "delete", "t", "-f"], "DELETE", "\(t)?force=true")
        try Self.check(["topics", "delete-partitioned-topic", "t", "--force"], "DELETE", "\(t)/partitions?force=true")
        try Self.check(["topics", "stats", "t"], "GET", "\(t)/stats")
        try Self.check(["topics", "partitioned-stats", "t"], "GET", "\(t)/partitioned-stats")
        try Self.check(["topics", "partitioned-stats", "t", "--per-partition"], "GET", "\(t)/partitioned-stats?perPartition=true")
        try Self.check(["topics", "stats-internal", "t"], "GET", "\(t)/internalStats")
        try Self.check(["topics", "internal-stats", "t"], "GET", "\(t)/internalStats")
        try Self.check(["topics", "last-message-id", "t"], "GET", "\(t)/lastMessageId")
        try Self.check(
            ["topics", "examine-message", "t", "-i", "earliest", "-m", "5"], "GET", "\(t)/examinemessage?initialPosition=earliest&messagePosition=5"
        )
        try Self.check(["topics", "examine-message", "t"], "GET", "\(t)/examinemessage?initialPosition=latest&messagePosition=1")
        try Self.check(["topics", "terminate", "t"], "POST", "\(t)/terminate")
        try Self.check(["topics", "unload", "t"], "PUT", "\(t)/unload")
        try Self.check(["topics", "lookup", "t"], "GET", "/lookup/v2/topic/persistent/public/default/t")
        try Self.check(["topics", "bundle-range", "acme/ops/t"], "GET", "/lookup/v2/topic/persistent/acme/ops/t/bundle")
        try Self.check(["topics", "stats", "non-persistent://acme/ops/t"], "GET", "/admin/v2/non-persistent/acme/ops/t/stats")
        try Self.check(["topics", "stats", "acme/ops/a=b:c"], "GET", "/admin/v2/persistent/acme/ops/a=b:c/stats")
        // Names outside Pulsar's rule are refused before any request, as the broker would.
        for bad in ["ops/t", "persistent://t", "persistent://a/b", "kafka://a/b/c", "", "a//c", "acme/ops/a b%", "acme/../t"] {
            #expect(throws: AdminError.self, "\(bad)") { try Self.request(["topics", "stats", bad]) }
        }

        let peek = try #require(try Magnetar.parseAsRoot(["admin", "topics", "peek-messages", "t", "-s", "sub", "-n", "3"]) as? Admin.Topics.PeekMessages)
        #expect(try peek.requests().map(\.description) == (1...3).map { "GET \(t)/subscription/sub/position/\($0)" })
    }

    @Test func subscriptions() throws {
        let t = "/admin/v2/persistent/public/default/t"
        try Self.check(["topics", "subscriptions", "t"], "GET", "\(t)/subscriptions")
        try Self.check(
            ["topics", "create-subscription", "t", "-s", "sub"], "PUT", "\(t)/subscription/sub",
            body: #"{"entryId":9223372036854775807,"ledgerId":9223372036854775807}"#
        )
        try Self.check(["topics", "create-subscription", "t", "-s", "sub", "-m", "earliest"], "PUT", "\(t)/subscription/sub", body: #"{"entryId":-1,"ledgerId":-1}"#)
        try Self.check(["topics", "create-subscription", "t", "-s", "sub", "--messageId", "12:5"], "PUT", "\(t)/subscription/sub", body: #"{"entryId":5,"ledgerId":12}"#)
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "topics", "create-subscription", "t", "-s", "sub", "-m", "12"]) }
        try Self.check(["topics", "unsubscribe", "t", "-s", "sub", "-f"], "DELETE", "\(t)/subscription/sub?force=true")
        try Self.check(["topics", "skip", "t", "-s", "sub", "-n", "5"], "POST", "\(t)/subscription/sub/skip/5")
        try Self.check(["topics", "clear-backlog", "t", "-s", "sub"], "POST", "\(t)/subscription/sub/skip_all")
        try Self.check(["topics", "expire-messages", "t", "-s", "sub", "-t", "60"], "POST", "\(t)/subscription/sub/expireMessages/60")
        try Self.check(["topics", "reset-cursor", "t", "-s", "sub", "-m", "3:4"], "POST", "\(t)/subscription/sub/resetcursor", body: #"{"entryId":4,"ledgerId":3}"#)

        let reset = try #require(try Magnetar.parseAsRoot(["admin", "topics", "reset-cursor", "t", "-s", "sub", "-t", "10m"]) as? Admin.Topics.ResetCursor)
        let request = try reset.request(now: Date(timeIntervalSince1970: 1_000_000))
        #expect(request.description == "POST \(t)/subscription/sub/resetcursor/\(1_000_000_000 - 600_000)")
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "topics", "reset-cursor", "t", "-s", "sub"]) }
    }

    @Test func sharedOptionsAndURLs() throws {
        let command = try #require(
            try Magnetar.parseAsRoot(["admin", "topics", "stats", "t", "--admin-url", "http://b:8080/", "-o", "json", "--timeout", "5"])
                as? Admin.Topics.Stats
        )
        #expect(command.options.adminURL == "http://b:8080/" && command.options.output == .json && command.options.timeout == 5)
        #expect(try command.request().url(base: "http://b:8080/") == "http://b:8080/admin/v2/persistent/public/default/t/stats")
        let query = AdminRequest.get("/p", query: ["z": "1 2", "a": "x&y"])
        #expect(query.url(base: "http://h") == "http://h/p?a=x%26y&z=1%202")
        #expect(AdminSession.resolve("/admin/v2/x", against: "http://a:1/admin/v2/y?z") == "http://a:1/admin/v2/x")
        #expect(AdminSession.resolve("http://b:2/q", against: "http://a:1/y") == "http://b:2/q")
        #expect(throws: (any Error).self) { try Magnetar.parseAsRoot(["admin", "clusters", "list", "-o", "yaml"]) }
    }

    @Test func jsonBodiesEscapeStrings() {
        let value: AdminJSON = .object(["b": .array([.null, true, 1, .double(0.5)]), "a": .string("q\"\\\n\u{1}é")])
        #expect(value.text == #"{"a":"q\"\\\n\u0001é","b":[null,true,1,0.5]}"#)
        let data = Data(value.text.utf8)
        #expect((try? JSONSerialization.jsonObject(with: data)) != nil)
    }
}
