import Foundation
import Synchronization
public import MagnetarClient
import NIOCore

/// `magnetar perf consume`: consumers receiving and acknowledging, with end-to-end
/// latency from each message's publish time to its receipt (millisecond resolution, as
/// the publish time has).
public struct ConsumeBenchmark: Sendable {
    public var serviceURL: String
    public var topics: [String]
    public var subscription: String
    public var consumersPerTopic: Int
    public var duration: Duration
    /// Stop after this many messages (0: no limit).
    public var messages: Int
    public var configuration: ConsumerConfiguration

    public init(
        serviceURL: String, topics: [String], subscription: String, consumersPerTopic: Int, duration: Duration, messages: Int,
        configuration: ConsumerConfiguration
    ) {
        self.serviceURL = serviceURL
        self.topics = topics
        self.subscription = subscription
        self.consumersPerTopic = consumersPerTopic
        self.duration = duration
        self.messages = messages
        self.configuration = configuration
    }

    public func run(report: @escaping @Sendable (LoadMeter.Snapshot) -> Void) async throws -> PerfReport {
        let client = try PulsarClient(serviceURL: self.serviceURL)
        var consumers: [Consumer] = []
        do {
            for topic in self.topics {
                for _ in 0..<self.consumersPerTopic {
                    consumers.append(try await client.subscribe(topic: topic, subscription: self.subscription, configuration: self.configuration))
                }
            }
        } catch {
            await client.close()
            throw error
        }
        let meter = LoadMeter()
        let end = ContinuousClock.now + self.duration
        let limit = self.messages
        let received = ReceivedCount()
        let all = consumers
        await withTaskGroup(of: Void.self) { group in
            for consumer in all {
                group.addTask {
                    // Ends when the reporting task closes the consumers.
                    while let message = try? await consumer.receive() {
                        let now = UInt64(Date().timeIntervalSince1970 * 1000)
                        let latency = now > message.publishTime ? (now - message.publishTime) * 1_000_000 : 0
                        meter.record(bytes: message.payload.readableBytes, latencyNanoseconds: latency)
                        consumer.acknowledge(message)
                        received.add()
                        if limit > 0, received.value >= limit { break }
                    }
                }
            }
            group.addTask {
                while ContinuousClock.now < end, limit == 0 || received.value < limit {
                    try? await Task.sleep(for: min(.seconds(1), ContinuousClock.now.duration(to: end)))
                    report(meter.interval())
                }
                for consumer in all { await consumer.close() }
            }
            await group.waitForAll()
        }
        _ = meter.interval()
        let total = meter.total()
        for consumer in consumers { await consumer.close() }
        await client.close()
        return PerfReport(
            msgRate: total.msgRate, mbPerSec: total.mbPerSec, latencyMs: .init(nanoseconds: total.latencies),
            description: "consume \(self.topics.count) topic(s) with \(consumers.count) \(self.configuration.subscriptionType) consumer(s) "
                + "on '\(self.subscription)'; \(total.messages) received; latency is publish to receive"
        )
    }
}

/// A shared message count.
private final class ReceivedCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { self.count.load(ordering: .relaxed) }
    func add() { self.count.add(1, ordering: .relaxed) }
}
