import ClusterTesting
import Foundation
import MagnetarClient
import MagnetarHTTPClient
import PulsarProto
import Testing

/// Pattern consumers that follow their namespace, readers of partitioned topics, and
/// lookups over HTTP, against real brokers.
@Suite("Discovery, partitioned readers and HTTP lookup", .timeLimit(.minutes(2)))
struct DiscoveryAndLookupTests {
    /// Receives until `body` says done or `timeout` passes; returns the texts received.
    static func receive(_ consumer: Consumer, for timeout: Duration, until done: ([String]) -> Bool) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var texts: [String] = []
        while !done(texts), ContinuousClock.now < deadline {
            if let message = try consumer.tryReceive() {
                consumer.acknowledge(message)
                texts.append(message.text)
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return texts
    }

    @Test func aPatternConsumerFollowsTopicsAsTheyComeAndGo() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        // A namespace without auto-creation: a deleted topic stays deleted when its consumer reconnects.
        let namespace = "public/discover\(UInt32.random(in: 0...UInt32.max))"
        for (method, path, body) in [
            ("PUT", "/admin/v2/namespaces/\(namespace)", nil), ("POST", "/admin/v2/namespaces/\(namespace)/autoTopicCreation", "{\"allowAutoTopicCreation\":false,\"topicType\":\"non-partitioned\"}"),
        ] {
            let answer = try await cluster.admin(method, path, body: body)
            try #require((200..<300).contains(answer.status), "\(path): \(answer)")
        }
        let consumer = try await client.subscribe(
            namespace: namespace, topicsMatching: "in-.*", subscription: "follow",
            configuration: ConsumerConfiguration(initialPosition: .earliest, patternAutoDiscoveryPeriod: .milliseconds(300))
        )
        #expect(consumer.topics.isEmpty)
        let refused = await #expect(throws: PulsarClientError.self) {
            _ = try await client.createProducer(topic: "persistent://\(namespace)/in-never-created")
        }
        #expect(refused?.serverError == .topicNotFound, "\(String(describing: refused))")

        // A topic created after the subscription is found and read from its start.
        let plain = "persistent://\(namespace)/in-plain"
        #expect(try await cluster.admin("PUT", "/admin/v2/persistent/\(namespace)/in-plain").status == 204)
        let plainProducer = try await client.createProducer(topic: plain)
        try await plainProducer.send("plain-1")
        let first = try await Self.receive(consumer, for: .seconds(15)) { $0.contains("plain-1") }
        #expect(first == ["plain-1"])

        // So is a partitioned one, every partition; a topic that does not match is not.
        #expect(try await cluster.admin("PUT", "/admin/v2/persistent/\(namespace)/in-parted/partitions", body: "2").status == 204)
        let parted = try await client.createProducer(topic: "persistent://\(namespace)/in-parted")
        for index in 0..<4 { try await parted.send("parted-\(index)") }
        #expect(try await cluster.admin("PUT", "/admin/v2/persistent/\(namespace)/out").status == 204)
        let other = try await client.createProducer(topic: "persistent://\(namespace)/out")
        try await other.send("other")
        let second = try await Self.receive(consumer, for: .seconds(15)) { $0.count >= 4 }
        #expect(Set(second) == ["parted-0", "parted-1", "parted-2", "parted-3"])
        let partitions: Set<String> = ["persistent://\(namespace)/in-parted-partition-0", "persistent://\(namespace)/in-parted-partition-1"]
        #expect(Set(consumer.topics) == partitions.union([plain]))

        // A deleted topic is dropped, and what remains is still consumed.
        await plainProducer.close()
        let deleted = try await cluster.admin("DELETE", "/admin/v2/persistent/\(namespace)/in-plain?force=true")
        #expect((200..<300).contains(deleted.status), "\(deleted)")
        let deadline = ContinuousClock.now + .seconds(15)
        while consumer.topics.contains(plain), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let listed = try await cluster.admin("GET", "/admin/v2/namespaces/\(namespace)/topics")
        #expect(Set(consumer.topics) == partitions, "listed: \(listed)")
        try await parted.send("after")
        let third = try await Self.receive(consumer, for: .seconds(15)) { $0.contains("after") }
        #expect(third == ["after"])
        await consumer.close()
        await parted.close()
        await other.close()
    }

    @Test func aReaderReadsEveryPartitionAndSeeksOne() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let local = "partread\(UInt32.random(in: 0...UInt32.max))"
        try await cluster.createPartitionedTopic(local, partitions: 3)
        let producer = try await client.createProducer(topic: local, configuration: ProducerConfiguration(batching: .disabled))
        var ids: [String: MessageID] = [:]
        for index in 0..<30 { ids["m\(index)"] = try await producer.send("m\(index)") }

        let reader = try await client.createReader(topic: local, start: .earliest)
        var read: [String: MessageID] = [:]
        for _ in 0..<30 {
            let message = try await reader.readNext()
            read[message.text] = message.id
        }
        #expect(read == ids)
        #expect(Set(read.values.map(\.partition)) == [0, 1, 2])
        #expect(try await reader.hasMessageAvailable() == false)
        let late = try await producer.send("late")
        #expect(try await reader.hasMessageAvailable())
        #expect(try await reader.readNext().id == late)

        // Seeking to a message of one partition replays that partition from it.
        let target = try #require(ids["m7"])
        try await reader.seek(to: target)
        let replayed = try await reader.readNext()
        #expect(replayed.id == target)
        #expect(replayed.text == "m7")
        await reader.close()

        let refused = await #expect(throws: PulsarClientError.self) {
            _ = try await client.createReader(topic: local, start: target)
        }
        #expect(refused?.code == .invalidArgument)
        await producer.close()
    }

    @Test func anHTTPServiceURLLooksTopicsUpAndFollowsRedirects() async throws {
        let cluster = try await ClientCluster.start(label: "http-lookup")
        let second = try await cluster.startAnotherBroker()
        defer { second.process.stop() }
        // The second broker is not the leader: it redirects the lookup of an unowned bundle.
        let follower = try await Self.follower(cluster: cluster, other: second.httpPort)
        let topic = "http\(UInt32.random(in: 0...UInt32.max))"
        let raw = try await HTTPClient.request("GET", "http://127.0.0.1:\(follower)/lookup/v2/topic/persistent/public/default/\(topic)")
        #expect(raw.status == 307, "\(raw.status) \(String(decoding: raw.body, as: UTF8.self))")

        var configuration = PulsarClient.Configuration(serviceURL: try ServiceURL(parsing: "http://127.0.0.1:\(follower)"))
        configuration.backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(1))
        let client = PulsarClient(configuration: configuration)
        defer { Task { await client.close() } }
        let producer = try await client.createProducer(topic: topic)
        try await producer.send("over http")
        try await cluster.createPartitionedTopic("\(topic)-p", partitions: 2)
        #expect(try await client.partitionCount(of: "\(topic)-p") == 2)
        let parted = try await client.createProducer(topic: "\(topic)-p")
        for index in 0..<4 { try await parted.send("p\(index)") }
        #expect(try await client.topics(ofNamespace: "public/default").contains("persistent://public/default/\(topic)"))

        let consumer = try await client.subscribe(
            topics: [topic, "\(topic)-p"], subscription: "web", configuration: ConsumerConfiguration(initialPosition: .earliest)
        )
        let texts = try await Self.receive(consumer, for: .seconds(15)) { $0.count >= 5 }
        #expect(Set(texts) == ["over http", "p0", "p1", "p2", "p3"])
        await consumer.close()
        await producer.close()
        await parted.close()
    }

    /// The HTTP port of the broker that is not the leader, once a leader is elected.
    static func follower(cluster: ClientCluster, other: Int) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let answer = try await cluster.admin("GET", "/admin/v2/brokers/leaderBroker")
            if answer.status == 200 {
                return answer.body.contains(":\(cluster.httpPort)") ? other : cluster.httpPort
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestHarnessError("no leader broker was elected")
    }
}
