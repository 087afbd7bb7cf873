import ClusterTesting
import Foundation
import Testing

/// Messaging policies with the real Python client through real brokers: retention, TTL,
/// backlog quotas, delayed delivery (and deduplication in `PolicyTests+Deduplication`).
@Suite("Messaging policies", .timeLimit(.minutes(4)))
struct PolicyTests {
    /// Policy rounds every second, small ledgers, and Pulsar's default of no retention.
    static let arguments = [
        "--policy-check-interval-seconds", "1", "--max-entries-per-ledger", "10", "--default-retention-time-minutes=0",
        "--default-retention-size-mb=0",
    ]

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Waits up to `timeout` for `condition`; true when it held.
    static func eventually(_ timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(250))
        }
        return try await condition()
    }

    static func ledgers(_ cluster: BrokerCluster, _ topic: String) async throws -> Int {
        let stats = Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/\(topic)/internalStats").body)
        return (stats["ledgers"] as? [Any])?.count ?? -1
    }

    /// How many messages a new subscription at earliest reads from `topic`.
    static func drained(_ cluster: BrokerCluster, _ topic: String) async throws -> Int {
        let output = try await Self.run(cluster, "drain.py", [topic], expecting: "DONE")
        return output.split(separator: "\n").filter { $0.hasPrefix("M ") }.count
    }

    static func run(_ cluster: BrokerCluster, _ script: String, _ arguments: [String], expecting marker: String) async throws -> String {
        let result = try await cluster.python(script, [cluster.serviceURL] + arguments)
        #expect(result.status == 0 && result.output.contains(marker), "\(script) \(arguments): \(result.output.suffix(2000))")
        return result.output
    }

    /// Without retention, ledgers every subscription has passed go, and with no
    /// subscription at all every closed ledger goes; a namespace's retention keeps them, so
    /// a new subscription at earliest reads consumed data again.
    @Test func retentionKeepsConsumedDataWhereSet() async throws {
        let cluster = try await BrokerCluster.start(label: "retention", brokerArguments: Self.arguments)
        defer { cluster.stop() }
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/kept").status == 204)
        let retention = #"{"retentionTimeInMinutes":60,"retentionSizeInMB":100}"#
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/kept/retention", body: retention).status == 204)
        for namespace in ["default", "kept"] {
            let consumed = "persistent://public/\(namespace)/consumed"
            _ = try await Self.run(cluster, "quota.py", [consumed, "fill", "50", "100"], expecting: "OK")
            _ = try await Self.run(cluster, "quota.py", [consumed, "drain"], expecting: "DRAINED 50")
            let unread = "persistent://public/\(namespace)/unsubscribed"
            _ = try await Self.run(cluster, "quota.py", [unread, "send", "50", "100"], expecting: "OK")
        }
        // Five ledgers of ten, and the current one.
        for topic in ["default/consumed", "default/unsubscribed"] {
            let trimmed = try await Self.eventually { try await Self.ledgers(cluster, topic) <= 2 }
            let left = try await Self.ledgers(cluster, topic)
            #expect(trimmed, "\(topic) keeps \(left) ledgers")
        }
        try await Task.sleep(for: .seconds(2))
        for topic in ["kept/consumed", "kept/unsubscribed"] {
            #expect(try await Self.ledgers(cluster, topic) >= 5, "\(topic)")
        }
        let stats = Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/kept/consumed/stats").body)
        #expect((stats["retainedSize"] as? Int ?? 0) > 0, "\(stats)")
        #expect(try await Self.drained(cluster, "persistent://public/kept/consumed") == 50)
        #expect(try await Self.drained(cluster, "persistent://public/kept/unsubscribed") == 50)
        #expect(try await Self.drained(cluster, "persistent://public/default/consumed") < 50)
    }

    /// Message TTL acknowledges what is older on every subscription; an age quota with
    /// eviction does the same past its limit.
    @Test func ttlAndAgeQuotaExpireOldMessages() async throws {
        let cluster = try await BrokerCluster.start(label: "ttl", brokerArguments: Self.arguments)
        defer { cluster.stop() }
        for namespace in ["ttl", "aged"] { #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/\(namespace)").status == 204) }
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/ttl/messageTTL", body: "2").status == 204)
        let quota = #"{"limitTime":2,"policy":"consumer_backlog_eviction"}"#
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/aged/backlogQuota?backlogQuotaType=message_age", body: quota).status == 204)
        // A topic's own TTL wins over its namespace's (none in public/default).
        #expect(try await cluster.http("POST", "/admin/v2/persistent/public/default/own-ttl/messageTTL?messageTTL=2").status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default/own-ttl/messageTTL").body == "2")
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default/old/messageTTL").status == 204)
        #expect(try await cluster.http("POST", "/admin/v2/persistent/public/default/old/messageTTL?messageTTL=-3").status == 412)
        #expect(try await cluster.http("POST", "/admin/v2/persistent/public/ghost/old/messageTTL?messageTTL=3").status == 404)
        for topic in ["ttl/old", "aged/old", "default/old", "default/own-ttl"] {
            _ = try await Self.run(cluster, "quota.py", ["persistent://public/\(topic)", "fill", "20", "100"], expecting: "OK")
        }
        func backlog(_ topic: String) async throws -> Int {
            let stats = Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/\(topic)/stats").body)
            return ((stats["subscriptions"] as? [String: Any])?["slow"] as? [String: Any])?["msgBacklog"] as? Int ?? -1
        }
        for topic in ["ttl/old", "aged/old", "default/own-ttl"] {
            let expired = try await Self.eventually { try await backlog(topic) == 0 }
            let left = try await backlog(topic)
            #expect(expired, "\(topic): backlog \(left)")
        }
        #expect(try await backlog("default/old") == 20, "no TTL: nothing expires")
        #expect(try await cluster.http("DELETE", "/admin/v2/persistent/public/default/own-ttl/messageTTL").status == 204)
        #expect(try await cluster.http("GET", "/admin/v2/persistent/public/default/own-ttl/messageTTL").status == 204)
    }

    /// Past a size quota: `producer_exception` refuses new producers with the exception,
    /// `producer_request_hold` with the error the client retries, until the backlog is
    /// consumed; `consumer_backlog_eviction` drops the oldest backlog instead.
    @Test func backlogQuotasRefuseHoldOrEvict() async throws {
        let cluster = try await BrokerCluster.start(label: "quota", brokerArguments: Self.arguments)
        defer { cluster.stop() }
        let policies = ["producer_exception", "producer_request_hold", "consumer_backlog_eviction"]
        for policy in policies {
            let namespace = "/admin/v2/namespaces/public/\(policy)"
            #expect(try await cluster.http("PUT", namespace).status == 204)
            _ = try await Self.run(cluster, "quota.py", ["persistent://public/\(policy)/full", "fill", "60", "1000"], expecting: "OK")
            // Set once the backlog is there; the next policy round puts it in force.
            let quota = #"{"limitSize":20000,"policy":"\#(policy)"}"#
            #expect(try await cluster.http("POST", "\(namespace)/backlogQuota?backlogQuotaType=destination_storage", body: quota).status == 204)
        }
        for policy in policies {
            let applied = try await Self.eventually {
                Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/\(policy)/full/stats").body)["backlogQuotaLimitSize"] as? Int == 20000
            }
            #expect(applied, "\(policy)")
        }
        let refused = try await Self.run(cluster, "quota.py", ["persistent://public/producer_exception/full", "create"], expecting: "REFUSED")
        #expect(refused.contains("ProducerBlockedQuotaExceededException"), "\(refused)")
        let held = try await Self.run(cluster, "quota.py", ["persistent://public/producer_request_hold/full", "create"], expecting: "REFUSED")
        #expect(held.contains("ProducerBlockedQuotaExceededError"), "\(held)")
        _ = try await Self.run(cluster, "quota.py", ["persistent://public/producer_request_hold/full", "drain"], expecting: "DRAINED 60")
        _ = try await Self.run(cluster, "quota.py", ["persistent://public/producer_request_hold/full", "create"], expecting: "CREATED")

        func backlogSize() async throws -> Int {
            let stats = Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/consumer_backlog_eviction/full/stats").body)
            return stats["backlogSize"] as? Int ?? -1
        }
        let evicted = try await Self.eventually { try await backlogSize() <= 20000 }
        let left = try await backlogSize()
        #expect(evicted, "backlog \(left) bytes")
        _ = try await Self.run(cluster, "quota.py", ["persistent://public/consumer_backlog_eviction/full", "create"], expecting: "CREATED")
    }

    /// A connected producer past a `producer_request_hold` quota is held: disconnected,
    /// refused while the backlog is over the limit (its client keeps its sends), and let
    /// back once the backlog is consumed, with no receipted message lost.
    @Test func aHeldProducerResumesWhenTheBacklogIsConsumed() async throws {
        // Data is kept, so that a new subscription can check every receipted message at the end.
        let cluster = try await BrokerCluster.start(label: "quota-hold", brokerArguments: ["--policy-check-interval-seconds", "1"])
        defer { cluster.stop() }
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/held").status == 204)
        let quota = #"{"limitSize":20000,"policy":"producer_request_hold"}"#
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/held/backlogQuota?backlogQuotaType=destination_storage", body: quota).status == 204)
        let topic = "persistent://public/held/stream"
        #expect(try await cluster.http("PUT", "/admin/v2/persistent/public/held/stream").status == 204)
        #expect(try await cluster.http("PUT", "/admin/v2/persistent/public/held/stream/subscription/slow").status == 204)
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        // Held: receipts stop for a while.
        var held = false
        let deadline = ContinuousClock.now + .seconds(30)
        while !held, ContinuousClock.now < deadline {
            let before = receipted().count
            try await Task.sleep(for: .seconds(2))
            held = before > 0 && receipted().count == before
        }
        #expect(held, "the producer was not held: \(receipted().count) receipts")
        guard held else { return }
        let atHold = receipted().count
        _ = try await Self.run(cluster, "quota.py", [topic, "drain", "8"], expecting: "DRAINED")
        let resumed = try await Self.eventually(.seconds(60)) { receipted().count > atHold + 50 }
        #expect(resumed, "still held after the backlog was consumed: \(receipted().count) receipts")
        producer.stop()
        let confirmed = Set(receipted())
        let consumed = Set(try await cluster.drain(topic))
        #expect(confirmed.isSubset(of: consumed), "\(confirmed.subtracting(consumed).count) receipted messages lost")
    }

    /// Messages delivered later wait for their time on a Shared subscription, through a
    /// broker SIGKILL and restart: none arrives early, none is lost, and those delivered
    /// before the kill do not come again. An Exclusive subscription gets them at once. A
    /// retry topic with negative acknowledgements and a dead-letter topic work on top.
    @Test func delayedMessagesWaitForTheirTimeAcrossARestart() async throws {
        let cluster = try await BrokerCluster.start(label: "delayed", brokerArguments: Self.arguments)
        defer { cluster.stop() }
        let topic = "persistent://public/default/delayed"
        let published = try await Self.run(cluster, "delayed.py", [topic, "publish", "8000", "10"], expecting: "OK")
        let due = BrokerCluster.numbers(in: published, prefix: "DUE ").first ?? 0
        let stats = Self.json(try await cluster.http("GET", "/admin/v2/persistent/public/default/delayed/stats").body)
        let shared = (stats["subscriptions"] as? [String: Any])?["shared"] as? [String: Any]
        #expect(shared?["msgDelayed"] as? Int == 10, "\(stats)")
        // Acknowledgements are stored every second: a kill sooner would send the
        // acknowledged messages again (at least once), which is not what this checks.
        try await Task.sleep(for: .milliseconds(2500))
        cluster.broker.kill(SIGKILL)
        _ = try await cluster.broker.waitForExit()
        let restarted = try await cluster.startSecondBroker()
        defer { restarted.stop() }
        let received = try await Self.run(cluster, "delayed.py", [topic, "receive", "10"], expecting: "OK")
        let lines = received.split(separator: "\n").filter { $0.hasPrefix("R ") }.map { $0.split(separator: " ") }
        #expect(Set(lines.map { String($0[1]) }) == Set((0..<10).map { "d\($0)" }), "\(received)")
        let times = lines.compactMap { Int($0[2]) }
        #expect(times.count == 10 && times.allSatisfy { $0 >= due - 50 }, "delivered before \(due): \(times)")
        // Retry topics, negative acknowledgements and a dead-letter topic on top of it.
        _ = try await Self.run(cluster, "delayed.py", ["persistent://public/default/jobs", "retry"], expecting: "OK")
    }
}
