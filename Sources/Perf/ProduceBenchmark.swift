import Foundation
public import MagnetarClient
import NIOCore

/// `magnetar perf produce`: producers publishing fixed-size messages at a target rate
/// (or as fast as the pending queues allow), with publish latency from the `sendAsync`
/// call to the broker's receipt.
public struct ProduceBenchmark: Sendable {
    public var serviceURL: String
    public var topics: [String]
    public var producersPerTopic: Int
    /// Messages per second over all producers; 0: as fast as possible.
    public var rate: Double
    public var size: Int
    public var duration: Duration
    /// Stop after this many messages (0: no limit).
    public var messages: Int
    public var configuration: ProducerConfiguration

    public init(
        serviceURL: String, topics: [String], producersPerTopic: Int, rate: Double, size: Int, duration: Duration, messages: Int,
        configuration: ProducerConfiguration
    ) {
        self.serviceURL = serviceURL
        self.topics = topics
        self.producersPerTopic = producersPerTopic
        self.rate = rate
        self.size = size
        self.duration = duration
        self.messages = messages
        self.configuration = configuration
    }

    /// Runs; `report` gets each second's figures.
    public func run(report: @escaping @Sendable (LoadMeter.Snapshot) -> Void) async throws -> PerfReport {
        let client = try PulsarClient(serviceURL: self.serviceURL)
        var producers: [Producer] = []
        do {
            for topic in self.topics {
                for _ in 0..<self.producersPerTopic { producers.append(try await client.createProducer(topic: topic, configuration: self.configuration)) }
            }
        } catch {
            await client.close()
            throw error
        }
        let payloads = Self.payloads(size: self.size)
        let meter = LoadMeter()
        let perProducerRate = self.rate / Double(producers.count)
        let perProducerLimit = self.messages > 0 ? (self.messages + producers.count - 1) / producers.count : Int.max
        let end = ContinuousClock.now + self.duration
        let size = self.size
        // The per-second reporter ends at `end` too, but only the producers' ends count:
        // one may still be waiting for room in its pending queue then, and must not be
        // cancelled (that failed the run).
        enum Ended { case producer((any Error)?), reporter }
        let failure: (any Error)? = await withTaskGroup(of: Ended.self) { group in
            for producer in producers {
                group.addTask {
                    do {
                        try await Self.drive(producer, payloads: payloads, size: size, rate: perProducerRate, limit: perProducerLimit, until: end, meter: meter)
                        return .producer(nil)
                    } catch {
                        return .producer(error)
                    }
                }
            }
            group.addTask {
                while ContinuousClock.now < end {
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { break }
                    report(meter.interval())
                }
                return .reporter
            }
            var first: (any Error)?
            var producing = producers.count
            for await ended in group {
                guard case .producer(let error) = ended else { continue }
                if let error, first == nil { first = error }
                producing -= 1
                // All done (a message limit can end them early): stop the reporter.
                if producing == 0 { group.cancelAll() }
            }
            return first
        }
        for producer in producers { try? await producer.flush() }
        _ = meter.interval()
        let total = meter.total()
        await client.close()
        if let failure { throw failure }
        let compression = self.configuration.compression
        let batching = self.configuration.batching
        return PerfReport(
            msgRate: total.msgRate, mbPerSec: total.mbPerSec, latencyMs: .init(nanoseconds: total.latencies), failures: total.failures,
            description: "produce \(self.size) B messages to \(self.topics.count) topic(s), \(producers.count) producer(s), "
                + "rate \(self.rate > 0 ? String(format: "%.0f", self.rate) : "max"), batching "
                + (batching.enabled ? "\(batching.maxDelay) / \(batching.maxMessages) msgs" : "off")
                + ", compression \(compression), max pending \(self.configuration.maxPendingMessages); \(total.messages) receipted"
        )
    }

    /// Random payloads to send in turn: more distinct bytes than LZ4's 64 KiB window and a
    /// batch hold, so compression finds no repeats to remove (as with real data, not with
    /// one payload sent again and again).
    static func payloads(size: Int) -> [ByteBuffer] {
        let count = max(8, (256 << 10) / max(1, size))
        // xorshift64*, seeded at random: fast enough for payloads of megabytes.
        var state = UInt64.random(in: 1...UInt64.max)
        return (0..<count).map { _ in
            let words = [UInt64](unsafeUninitializedCapacity: (size + 7) / 8) { words, initialized in
                for index in 0..<words.count {
                    state ^= state >> 12
                    state ^= state << 25
                    state ^= state >> 27
                    words[index] = state &* 0x2545_F491_4F6C_DD1D
                }
                initialized = words.count
            }
            return words.withUnsafeBytes { ByteBuffer(bytes: $0.prefix(size)) }
        }
    }

    private static func drive(
        _ producer: Producer, payloads: [ByteBuffer], size: Int, rate: Double, limit: Int, until end: ContinuousClock.Instant, meter: LoadMeter
    ) async throws {
        let start = ContinuousClock.now
        var sent = 0
        while sent < limit {
            let now = ContinuousClock.now
            if now >= end || Task.isCancelled { break }
            if rate > 0 {
                // Ahead of the schedule by more than a millisecond: wait. Smaller leads are
                // sent at once, so high rates need no sleep per message.
                let due = start + .nanoseconds(Int64(Double(sent) / rate * 1e9))
                if due > now + .milliseconds(1) { try await Task.sleep(until: due, clock: .continuous) }
            }
            let sentAt = ContinuousClock.now
            try await producer.sendAsync(OutgoingMessage(payload: payloads[sent % payloads.count])) { result in
                switch result {
                case .success:
                    let latency = sentAt.duration(to: .now)
                    meter.record(bytes: size, latencyNanoseconds: UInt64(max(0, latency.components.seconds * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000)))
                case .failure:
                    meter.recordFailure()
                }
            }
            sent += 1
        }
    }
}
