import Foundation
public import Histogram

/// The summary line every `magnetar perf` mode prints last with `--json`:
/// `{"msgRate":…, "mbPerSec":…, "latencyMs":{"p50":…,"p99":…,"p999":…,"max":…}}`,
/// plus mode-specific fields beside those.
public struct PerfReport: Codable, Sendable {
    /// Percentiles of a latency distribution, in milliseconds.
    public struct Latency: Codable, Sendable {
        public var p50: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        /// Reads percentiles from a histogram of nanoseconds.
        public init(nanoseconds histogram: Histogram<UInt64>) {
            func milliseconds(_ value: UInt64) -> Double { Double(value) / 1_000_000 }
            self.p50 = milliseconds(histogram.valueAtPercentile(50))
            self.p99 = milliseconds(histogram.valueAtPercentile(99))
            self.p999 = milliseconds(histogram.valueAtPercentile(99.9))
            self.max = milliseconds(histogram.maxRecorded)
        }
    }

    public var msgRate: Double
    public var mbPerSec: Double
    public var latencyMs: Latency
    /// Watch delivery latency, for modes that measure it.
    public var watchLatencyMs: Latency?
    /// Operations that failed, for modes that count them; `msgRate` leaves them out.
    public var failures: Int?
    /// What was measured, for a person reading the JSON.
    public var description: String?

    public init(
        msgRate: Double,
        mbPerSec: Double,
        latencyMs: Latency,
        watchLatencyMs: Latency? = nil,
        failures: Int? = nil,
        description: String? = nil
    ) {
        self.msgRate = msgRate
        self.mbPerSec = mbPerSec
        self.latencyMs = latencyMs
        self.watchLatencyMs = watchLatencyMs
        self.failures = failures
        self.description = description
    }

    /// The report as one line of JSON with keys in a stable order.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}

/// A histogram of nanosecond latencies from 1 µs to 100 s at three significant digits.
public func makeLatencyHistogram() -> Histogram<UInt64> {
    Histogram(lowestDiscernibleValue: 1_000, highestTrackableValue: 100_000_000_000, numberOfSignificantValueDigits: .three)
}
