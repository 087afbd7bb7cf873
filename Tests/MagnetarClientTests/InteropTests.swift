import ClusterTesting
import Foundation
import MagnetarClient
import NIOCore
import Synchronization
import Testing

/// The Swift client against a real broker over real bookies, checked by and against
/// the real Python client.
@Suite("Interop with the Python client", .timeLimit(.minutes(3)))
struct InteropTests {
    @Test(arguments: MessageCompression.allCases)
    func swiftProducerToPythonConsumer(compression: MessageCompression) async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("s2p-\(compression)")
        let client = try cluster.client()
        let producer = try await client.createProducer(
            topic: topic, configuration: ProducerConfiguration(batching: BatchPolicy(maxMessages: 50, maxDelay: .milliseconds(5)), compression: compression)
        )
        let count = 400
        let failures = Atomic<Int>(0)
        for index in 0..<count {
            let message = OutgoingMessage("swift-\(index)-" + String(repeating: "x", count: index % 50), key: "k\(index % 3)", properties: ["i": "\(index)"])
            try await producer.sendAsync(message) { result in
                if case .failure = result { failures.add(1, ordering: .relaxed) }
            }
        }
        try await producer.flush()
        #expect(failures.load(ordering: .relaxed) == 0)
        await client.close()

        let result = try await cluster.python("consume.py", [cluster.serviceURL, topic, "check", "\(count)"])
        #expect(result.status == 0, "\(result.output.suffix(2000))")
        let records = ClientCluster.records(result.output)
        #expect(records.map { $0["data"] as? String } == (0..<count).map { "swift-\($0)-" + String(repeating: "x", count: $0 % 50) })
        #expect(records.map { $0["key"] as? String } == (0..<count).map { "k\($0 % 3)" })
        #expect(records.map { ($0["properties"] as? [String: String])?["i"] } == (0..<count).map { "\($0)" })
    }

    @Test(arguments: MessageCompression.allCases)
    func pythonProducerToSwiftConsumer(compression: MessageCompression) async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("p2s-\(compression)")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(topic: topic, subscription: "check", configuration: ConsumerConfiguration(initialPosition: .earliest))
        let count = 400
        let produced = try await cluster.python("produce.py", [cluster.serviceURL, topic, compression.rawValue, "\(count)"])
        #expect(produced.status == 0 && produced.output.contains("OK"), "\(produced.output.suffix(2000))")

        var received: [Message] = []
        for try await message in consumer.messages {
            received.append(message)
            consumer.acknowledge(message)
            if received.count == count { break }
        }
        #expect(received.map(\.text) == (0..<count).map { "py-\($0)" })
        #expect(received.map(\.key) == (0..<count).map { "k\($0 % 5)" })
        #expect(received.map { $0.properties["i"] } == (0..<count).map { "\($0)" })
        // The Python client batches: ids carry batch positions.
        #expect(received.contains { $0.id.batchIndex > 0 })
        #expect(Set(received.map(\.id)).count == count)
        await consumer.close()
    }

    @Test func partitionedTopicRoutesByKeyAndRoundRobin() async throws {
        let cluster = try await SharedCluster.get()
        let local = "parts-\(UInt32.random(in: 0...UInt32.max))"
        try await cluster.createPartitionedTopic(local, partitions: 3)
        let topic = "persistent://public/default/\(local)"
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(topic: topic, subscription: "all", configuration: ConsumerConfiguration(initialPosition: .earliest))
        #expect(consumer.topics.count == 3)
        let producer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(batching: .disabled))
        #expect(producer.partitionCount == 3)
        var partitionOfKey: [String: Set<Int32>] = [:]
        var unkeyedPartitions: Set<Int32> = []
        for index in 0..<60 {
            let key = index % 2 == 0 ? "key-\(index % 10)" : nil
            let id = try await producer.send(OutgoingMessage("m\(index)", key: key))
            if let key { partitionOfKey[key, default: []].insert(id.partition) } else { unkeyedPartitions.insert(id.partition) }
        }
        #expect(partitionOfKey.values.allSatisfy { $0.count == 1 })
        #expect(unkeyedPartitions == [0, 1, 2])

        var received: [Message] = []
        while received.count < 60 {
            let message = try await consumer.receive()
            consumer.acknowledge(message)
            received.append(message)
        }
        #expect(Set(received.map(\.text)) == Set((0..<60).map { "m\($0)" }))
        // Per key, order is kept.
        for key in Set(received.compactMap(\.key)) {
            let numbers = received.filter { $0.key == key }.compactMap { Int($0.text.dropFirst()) }
            #expect(numbers == numbers.sorted())
        }

        let python = try await cluster.python("consume.py", [cluster.serviceURL, topic, "python", "60"])
        #expect(python.status == 0, "\(python.output.suffix(2000))")
        #expect(Set(ClientCluster.records(python.output).compactMap { $0["data"] as? String }) == Set((0..<60).map { "m\($0)" }))
        await consumer.close()
    }

    @Test(arguments: SubscriptionType.allCases)
    func everySubscriptionTypeGetsEveryMessageOnce(type: SubscriptionType) async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("sub-\(type)")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let configuration = ConsumerConfiguration(subscriptionType: type, initialPosition: .earliest, receiverQueueSize: 50)
        let first = try await client.subscribe(topic: topic, subscription: "s", configuration: configuration)
        let second: Consumer? = type == .exclusive ? nil : try await client.subscribe(topic: topic, subscription: "s", configuration: configuration)
        if type == .exclusive {
            await #expect(throws: PulsarClientError.self) { _ = try await client.subscribe(topic: topic, subscription: "s", configuration: configuration) }
        }
        let count = 300
        // Shared dispatch spreads entries, and Key_Shared routes an entry by its key: send
        // messages one per entry, or batches of one key.
        let batching = type == .shared ? "none" : type == .keyShared ? "keybased" : "default"
        let produced = try await cluster.python("produce.py", [cluster.serviceURL, topic, "lz4", "\(count)", batching])
        #expect(produced.status == 0, "\(produced.output.suffix(2000))")

        let received = Locked<[(consumer: Int, message: Message)]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, consumer) in [first, second].compactMap({ $0 }).enumerated() {
                group.addTask {
                    while received.withLock({ $0.count }) < count {
                        let message = try await consumer.receive()
                        consumer.acknowledge(message)
                        received.withLock { $0.append((index, message)) }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw TestHarnessError("only \(received.withLock { $0.count }) of \(count) messages arrived")
            }
            while received.withLock({ $0.count }) < count { try await Task.sleep(for: .milliseconds(20)) }
            group.cancelAll()
        }
        let all = received.withLock { $0 }
        #expect(all.count == count)
        #expect(Set(all.map(\.message.text)) == Set((0..<count).map { "py-\($0)" }))
        let perConsumer = Dictionary(grouping: all, by: \.consumer)
        switch type {
        case .exclusive, .failover:
            // One consumer is active and gets everything, in order.
            #expect(perConsumer.count == 1)
            #expect(all.map(\.message.text) == (0..<count).map { "py-\($0)" })
        case .shared:
            #expect(perConsumer.count == 2)
        case .keyShared:
            #expect(perConsumer.count == 2)
            var owner: [String: Int] = [:]
            for (consumer, message) in all {
                let key = message.key ?? ""
                #expect(owner[key, default: consumer] == consumer, "key \(key) went to two consumers")
                owner[key] = consumer
            }
        }
        await first.close()
        await second?.close()
    }
}
