import ClusterTesting
import Foundation
import MagnetarClient
import Synchronization
import Testing

/// A broker killed and restarted under a producing and a consuming client.
@Suite("Reconnection", .timeLimit(.minutes(3)))
struct ReconnectTests {
    @Test func noReceiptedMessageIsLostAcrossABrokerRestart() async throws {
        let cluster = try await ClientCluster.start(label: "client-restart")
        defer { cluster.killBroker() }
        let topic = uniqueTopic("restart")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(topic: topic, subscription: "r", configuration: ConsumerConfiguration(initialPosition: .earliest))
        let producer = try await client.createProducer(
            topic: topic, configuration: ProducerConfiguration(batching: BatchPolicy(maxMessages: 20, maxDelay: .milliseconds(2)), maxPendingMessages: 200)
        )
        let count = 3000
        let receipted = Locked<[Int]>([])
        let failed = Locked<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<count {
                    try await producer.sendAsync(OutgoingMessage("\(index)")) { result in
                        switch result {
                        case .success: receipted.withLock { $0.append(index) }
                        case .failure(let error): failed.withLock { $0.append("\(index): \(error)") }
                        }
                    }
                    if index % 100 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                }
                try await producer.flush()
            }
            while receipted.withLock({ $0.count }) < 500 { try await Task.sleep(for: .milliseconds(5)) }
            cluster.killBroker()
            try await Task.sleep(for: .milliseconds(300))
            try await cluster.startBroker()
            try await group.waitForAll()
        }
        #expect(failed.withLock { $0 }.isEmpty, "\(failed.withLock { $0.prefix(5) })")
        let done = receipted.withLock { $0 }
        #expect(done == Array(0..<count), "receipts out of order or missing")

        var seen = Set<Int>()
        var order: [Int] = []
        while seen.count < count {
            let message = try await consumer.receive()
            consumer.acknowledge(message)
            let number = try #require(Int(message.text))
            if seen.insert(number).inserted { order.append(number) }
        }
        #expect(seen == Set(0..<count))
        #expect(order == order.sorted(), "first messages of each number arrive in publish order")
        await consumer.close()
    }
}
