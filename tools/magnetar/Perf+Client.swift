import ArgumentParser
import Foundation
import MagnetarClient
import Perf

/// `magnetar perf produce`, with pulsar-perf's flags.
struct PerfProduce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Publish through the broker with the native client: a line per second, then a summary.",
        discussion: "Latency is from the send call to the broker's receipt. With -t N each topic gets the suffix -0 … -(N-1)."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: "The topic(s).") var topics: [String]
    @Option(name: [.customShort("r"), .customLong("rate")], help: "Messages per second over all producers; 0: as fast as possible.") var rate = 0.0
    @Option(name: [.customShort("s"), .customLong("size")], help: "Message size in bytes.") var size = 1024
    @Option(name: [.customShort("t"), .customLong("num-topics")], help: "Topics per given topic name (suffixed -0, -1, …); 1 uses the name as is.") var numTopics = 1
    @Option(name: [.customShort("n"), .customLong("num-producers")], help: "Producers per topic.") var producers = 1
    @Option(name: [.customShort("b"), .customLong("batch-time-window")], help: "Batching delay in milliseconds; 0 disables batching.") var batchTime = 1.0
    @Option(name: [.customLong("batch-max-messages")], help: "Messages per batch at most.") var batchMessages = 1000
    @Option(name: [.customLong("batch-max-bytes")], help: "Bytes per batch at most.") var batchBytes = 128 << 10
    @Option(name: [.customShort("z"), .customLong("compression")], help: "none, lz4 or zstd.") var compression: MessageCompression = .none
    @Option(name: [.customShort("o"), .customLong("max-outstanding")], help: "Messages pending per producer partition before sends wait.") var maxPending = 1000
    @Option(name: [.customShort("m"), .customLong("num-messages")], help: "Stop after this many messages; 0: no limit.") var messages = 0
    @Option(name: [.customLong("test-duration"), .customLong("duration")], help: "Seconds to run.") var duration = 10.0
    @Flag(help: "End with one JSON summary line.") var json = false

    func validate() throws {
        guard self.size >= 0, self.numTopics >= 1, self.producers >= 1, self.maxPending >= 1, self.batchMessages >= 1, self.batchBytes >= 1 else {
            throw ValidationError("--size, --num-topics, --num-producers, --max-outstanding and the batch limits must be positive")
        }
        guard self.rate >= 0, self.batchTime >= 0, self.messages >= 0, self.duration > 0 else {
            throw ValidationError("--rate, --batch-time-window and --num-messages cannot be negative; --test-duration must be positive")
        }
    }

    func run() async throws {
        _ = try self.client.client()
        let batching =
            self.batchTime > 0
            ? BatchPolicy(maxMessages: self.batchMessages, maxBytes: self.batchBytes, maxDelay: .microseconds(Int64(self.batchTime * 1000)))
            : .disabled
        let benchmark = ProduceBenchmark(
            serviceURL: self.client.serviceURL, topics: expand(self.topics, self.numTopics), producersPerTopic: self.producers, rate: self.rate,
            size: self.size, duration: .milliseconds(Int64(self.duration * 1000)), messages: self.messages,
            configuration: ProducerConfiguration(batching: batching, compression: self.compression, maxPendingMessages: self.maxPending)
        )
        let report = try await benchmark.run { snapshot in print("produced " + snapshot.line) }
        printSummary(report, json: self.json)
    }
}

/// `magnetar perf consume`, with pulsar-perf's flags.
struct PerfConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume through the broker with the native client: a line per second, then a summary.",
        discussion: "Latency is end to end, from each message's publish time to its receipt here (millisecond resolution)."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: "The topic(s).") var topics: [String]
    @Option(name: [.customShort("s"), .customLong("subscriber-name")], help: "The subscription.") var subscription = "sub"
    @Option(name: [.customLong("st", withSingleDash: true), .customLong("subscription-type")], help: "Exclusive, Shared, Failover or Key_Shared.")
    var type: SubscriptionType = .exclusive
    @Option(name: [.customLong("subscription-position")], help: "Earliest or Latest.") var position: InitialPosition = .latest
    @Option(name: [.customShort("t"), .customLong("num-topics")], help: "Topics per given topic name (suffixed -0, -1, …).") var numTopics = 1
    @Option(name: [.customShort("n"), .customLong("num-consumers")], help: "Consumers per topic.") var consumers = 1
    @Option(name: [.customShort("q"), .customLong("receiver-queue-size")], help: "Receiver queue per consumer.") var queueSize = 1000
    @Option(name: [.customShort("m"), .customLong("num-messages")], help: "Stop after this many messages; 0: no limit.") var messages = 0
    @Option(name: [.customLong("test-duration"), .customLong("duration")], help: "Seconds to run.") var duration = 10.0
    @Flag(help: "End with one JSON summary line.") var json = false

    func validate() throws {
        guard self.numTopics >= 1, self.consumers >= 1, self.queueSize >= 1, self.messages >= 0, self.duration > 0 else {
            throw ValidationError("--num-topics, --num-consumers, --receiver-queue-size and --test-duration must be positive")
        }
        guard self.consumers == 1 || self.type != .exclusive else {
            throw ValidationError("an Exclusive subscription takes one consumer; use -st Shared, Failover or Key_Shared")
        }
    }

    func run() async throws {
        _ = try self.client.client()
        let benchmark = ConsumeBenchmark(
            serviceURL: self.client.serviceURL, topics: expand(self.topics, self.numTopics), subscription: self.subscription,
            consumersPerTopic: self.consumers, duration: .milliseconds(Int64(self.duration * 1000)), messages: self.messages,
            configuration: ConsumerConfiguration(subscriptionType: self.type, initialPosition: self.position, receiverQueueSize: self.queueSize)
        )
        let report = try await benchmark.run { snapshot in print("consumed " + snapshot.line) }
        printSummary(report, json: self.json)
    }
}

/// Topic names with `-i` suffixes when more than one per name is asked for.
private func expand(_ topics: [String], _ count: Int) -> [String] {
    count == 1 ? topics : topics.flatMap { topic in (0..<count).map { "\(topic)-\($0)" } }
}

private func printSummary(_ report: PerfReport, json: Bool) {
    print(report.description ?? "")
    print(
        String(
            format: "msg/s %.0f  MB/s %.2f  p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.2f ms  failed %d", report.msgRate, report.mbPerSec,
            report.latencyMs.p50, report.latencyMs.p99, report.latencyMs.p999, report.latencyMs.max, report.failures ?? 0
        )
    )
    if json { print(report.jsonLine()) }
}
