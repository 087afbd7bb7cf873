import ClusterTesting
import Foundation
import MagnetarClient
import Testing

/// Readers, seeks, acknowledgments and redelivery against a real broker.
@Suite("Consumer and reader features", .timeLimit(.minutes(1)))
struct ConsumerFeatureTests {
    static func publish(_ producer: Producer, _ count: Int) async throws -> [MessageID] {
        var ids: [MessageID] = []
        for index in 0..<count { ids.append(try await producer.send("m\(index)")) }
        return ids
    }

    @Test func readerStartsAtAnIDAndSeeksByIDAndTime() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("reader")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let producer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(batching: .disabled))
        var ids: [MessageID] = []
        var times: [UInt64] = []
        for index in 0..<10 {
            ids.append(try await producer.send("m\(index)"))
            times.append(UInt64(Date().timeIntervalSince1970 * 1000))
            try await Task.sleep(for: .milliseconds(5))
        }

        let exclusive = try await client.createReader(topic: topic, start: ids[3])
        #expect(try await exclusive.readNext().text == "m4")
        let inclusive = try await client.createReader(topic: topic, start: ids[3], inclusive: true)
        #expect(try await inclusive.readNext().text == "m3")
        await inclusive.close()

        for expected in 5..<10 { #expect(try await exclusive.readNext().text == "m\(expected)") }
        let more = try await exclusive.hasMessageAvailable()
        #expect(!more)
        try await producer.send("m10")
        let fresh = try await exclusive.hasMessageAvailable()
        #expect(fresh)
        #expect(try await exclusive.readNext().text == "m10")

        try await exclusive.seek(to: ids[1])
        #expect(try await exclusive.readNext().text == "m1")
        try await exclusive.seek(toPublishTime: times[5] + 1)
        #expect(try await exclusive.readNext().text == "m6")
        await exclusive.close()

        let fromEarliest = try await client.createReader(topic: topic)
        #expect(try await fromEarliest.readNext().text == "m0")
        await fromEarliest.close()
    }

    @Test func cumulativeAckMovesTheSubscriptionForAResubscribe() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("cumulative")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let configuration = ConsumerConfiguration(initialPosition: .earliest)
        let consumer = try await client.subscribe(topic: topic, subscription: "c", configuration: configuration)
        let producer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(batching: BatchPolicy(maxMessages: 4, maxDelay: .milliseconds(50))))
        for index in 0..<10 { try await producer.sendAsync(OutgoingMessage("m\(index)")) { _ in } }
        try await producer.flush()
        var last: Message?
        for _ in 0..<6 { last = try await consumer.receive() }
        #expect(last?.text == "m5")
        try consumer.acknowledgeCumulative(try #require(last))
        try await Task.sleep(for: .milliseconds(200))
        await consumer.close()

        let again = try await client.subscribe(topic: topic, subscription: "c", configuration: configuration)
        #expect(try await again.receive().text == "m6")
        await again.close()
    }

    @Test func negativeAckRedeliversWithACountAndDeadLettersAfterTheLimit() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("nack")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let configuration = ConsumerConfiguration(
            subscriptionType: .shared, initialPosition: .earliest, negativeAckRedeliveryDelay: .milliseconds(100),
            deadLetterPolicy: DeadLetterPolicy(maxRedeliverCount: 2, deadLetterTopic: topic + "-dlq")
        )
        let consumer = try await client.subscribe(topic: topic, subscription: "n", configuration: configuration)
        let dead = try await client.subscribe(topic: topic + "-dlq", subscription: "d", configuration: ConsumerConfiguration(initialPosition: .earliest))
        let producer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(batching: .disabled))
        try await producer.send("poison")
        try await producer.send("fine")

        var counts: [UInt32] = []
        var fine = false
        while counts.count < 2 || !fine {
            let message = try await consumer.receive()
            if message.text == "poison" {
                counts.append(message.redeliveryCount)
                consumer.negativeAcknowledge(message)
            } else {
                fine = true
                consumer.acknowledge(message)
            }
        }
        #expect(counts == [0, 1])
        // The third delivery passes the limit: receive moves it to the dead-letter topic
        // instead of returning it.
        let pump = Task {
            while true {
                let message = try await consumer.receive()
                Issue.record("\(message.text) was delivered past the redelivery limit")
            }
        }
        let moved = try await dead.receive()
        pump.cancel()
        #expect(moved.text == "poison")
        #expect(moved.properties["REAL_TOPIC"] == topic)
        await consumer.close()
        await dead.close()
    }

    @Test func ackTimeoutRedeliversAnUnacknowledgedMessage() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("ack-timeout")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(
            topic: topic, subscription: "t",
            configuration: ConsumerConfiguration(subscriptionType: .shared, initialPosition: .earliest, ackTimeout: .milliseconds(300))
        )
        let producer = try await client.createProducer(topic: topic)
        try await producer.send("forgotten")
        let first = try await consumer.receive()
        let second = try await consumer.receive()
        #expect(first.text == "forgotten" && second.text == "forgotten")
        #expect(second.redeliveryCount == 1)
        consumer.acknowledge(second)
        await consumer.close()
    }

    @Test func badInputGetsAClearError() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        await #expect(throws: PulsarClientError.self) { _ = try await client.createProducer(topic: "a/b") }
        await #expect(throws: PulsarClientError.self) { _ = try await client.subscribe(topic: uniqueTopic("x"), subscription: "") }
        let unreachable = PulsarClient(
            configuration: PulsarClient.Configuration(
                serviceURL: try ServiceURL(parsing: "pulsar://127.0.0.1:\(try FreePort.allocate())"), operationTimeout: .seconds(2)
            )
        )
        let error = await #expect(throws: PulsarClientError.self) {
            _ = try await unreachable.createProducer(topic: "t", configuration: ProducerConfiguration())
        }
        #expect(error?.code == .connectionFailed || error?.code == .timeout)
        await unreachable.close()
    }
}
