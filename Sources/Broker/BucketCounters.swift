import Synchronization

/// Counts of observations by bucket, with their sum: Pulsar's `_le_*` metric series
/// (each bucket counts the observations at or below its bound and above the previous
/// one; the last counts the rest). Recorded from any loop under an uncontended lock, read
/// by scrapes.
final class BucketCounters: Sendable {
    /// Upper bounds, ascending, and their names in the metric (`0_5`, `1_kb`, …).
    let bounds: [(value: Double, name: String)]
    private let state: Mutex<Reading>

    init(bounds: [(value: Double, name: String)]) {
        self.bounds = bounds
        self.state = Mutex(Reading(counts: Array(repeating: 0, count: bounds.count + 1), count: 0, sum: 0))
    }

    /// Pulsar's storage write latency buckets, in milliseconds.
    static func writeLatency() -> BucketCounters {
        BucketCounters(bounds: [(0.5, "0_5"), (1, "1"), (5, "5"), (10, "10"), (20, "20"), (50, "50"), (100, "100"), (200, "200"), (1000, "1000")])
    }

    /// Pulsar's entry size buckets, in bytes.
    static func entrySize() -> BucketCounters {
        BucketCounters(bounds: [
            (128, "128"), (512, "512"), (1024, "1_kb"), (2048, "2_kb"), (4096, "4_kb"), (16384, "16_kb"), (102_400, "100_kb"), (1_048_576, "1_mb"),
        ])
    }

    func record(_ value: Double) {
        var index = 0
        while index < self.bounds.count, value > self.bounds[index].value { index += 1 }
        self.state.withLock { state in
            state.counts[index] += 1
            state.count += 1
            state.sum += value
        }
    }

    struct Reading: Sendable, Equatable {
        /// Per bucket, the last being the overflow.
        var counts: [Int]
        var count: Int
        var sum: Double
    }

    var reading: Reading { self.state.withLock { $0 } }
}
