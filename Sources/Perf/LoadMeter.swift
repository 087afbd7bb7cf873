import Foundation
public import Histogram
import Synchronization

/// Counts messages, bytes and latencies of a client benchmark from any thread, for a
/// live line per interval and the final report.
public final class LoadMeter: Sendable {
    /// What one interval (or the whole run) saw.
    public struct Snapshot: Sendable {
        public var messages: Int
        public var bytes: Int
        public var failures: Int
        public var elapsed: Duration
        public var latencies: Histogram<UInt64>

        public var msgRate: Double { self.seconds > 0 ? Double(self.messages) / self.seconds : 0 }
        public var mbPerSec: Double { self.seconds > 0 ? Double(self.bytes) / self.seconds / 1e6 : 0 }
        private var seconds: Double { Double(self.elapsed.components.seconds) + Double(self.elapsed.components.attoseconds) / 1e18 }

        /// `msg/s  MB/s  p50  p99` as the live line prints it.
        public var line: String {
            func milliseconds(_ percentile: Double) -> Double { Double(self.latencies.valueAtPercentile(percentile)) / 1e6 }
            return String(
                format: "%9.0f msg/s  %8.2f MB/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  failed %d", self.msgRate, self.mbPerSec,
                milliseconds(50), milliseconds(99), milliseconds(99.9), self.failures
            )
        }
    }

    private struct Counters {
        var messages = 0
        var bytes = 0
        var failures = 0
        var interval = makeLatencyHistogram()
        var total = makeLatencyHistogram()
        var intervalStart: ContinuousClock.Instant
    }

    private let counters: Mutex<Counters>
    private let start: ContinuousClock.Instant
    private let totals = Mutex<(messages: Int, bytes: Int, failures: Int)>((0, 0, 0))

    public init() {
        let now = ContinuousClock.now
        self.start = now
        self.counters = Mutex(Counters(intervalStart: now))
    }

    /// One message of `bytes` done after `latency` (nanoseconds).
    public func record(bytes: Int, latencyNanoseconds: UInt64) {
        self.counters.withLock { counters in
            counters.messages += 1
            counters.bytes += bytes
            let value = max(1_000, min(latencyNanoseconds, 100_000_000_000))
            counters.interval.record(value)
            counters.total.record(value)
        }
    }

    public func recordFailure() {
        self.counters.withLock { $0.failures += 1 }
    }

    /// What happened since the last call, and starts a new interval.
    public func interval() -> Snapshot {
        let now = ContinuousClock.now
        let snapshot = self.counters.withLock { counters in
            defer {
                counters.messages = 0
                counters.bytes = 0
                counters.failures = 0
                counters.interval.reset()
                counters.intervalStart = now
            }
            return Snapshot(
                messages: counters.messages, bytes: counters.bytes, failures: counters.failures, elapsed: counters.intervalStart.duration(to: now),
                latencies: counters.interval
            )
        }
        self.totals.withLock { totals in
            totals.messages += snapshot.messages
            totals.bytes += snapshot.bytes
            totals.failures += snapshot.failures
        }
        return snapshot
    }

    /// The whole run so far (call ``interval()`` first to count the last interval).
    public func total() -> Snapshot {
        let latencies = self.counters.withLock { $0.total }
        let totals = self.totals.withLock { $0 }
        return Snapshot(messages: totals.messages, bytes: totals.bytes, failures: totals.failures, elapsed: self.start.duration(to: .now), latencies: latencies)
    }
}
