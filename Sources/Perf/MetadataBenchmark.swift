import Foundation
public import Metadata
import Histogram
import Synchronization

/// Measures compare-and-set puts against a metadata store, and how long a watch takes to
/// deliver each of them.
///
/// `inFlight` writers each own one key and loop `put(expecting: .version(last))`; a watch on
/// the run's prefix records, for every event, the time from the writer's put returning to
/// the event arriving (zero when the event arrived first).
public struct MetadataBenchmark: Sendable {
    public var duration: Duration
    public var inFlight: Int
    public var valueSize: Int

    public init(duration: Duration, inFlight: Int, valueSize: Int = 100) {
        self.duration = duration
        self.inFlight = inFlight
        self.valueSize = valueSize
    }

    private struct Timings {
        var acknowledged: [Int64: ContinuousClock.Instant] = [:]
        var delivered: [Int64: ContinuousClock.Instant] = [:]
    }

    private final class TimingLog: Sendable {
        let state = Mutex(Timings())
        func withLock<T>(_ body: (inout Timings) -> T) -> T { self.state.withLock { body(&$0) } }
    }

    public func run(_ store: any MetadataStore) async throws -> PerfReport {
        let prefix = "/perf/run-\(UInt32.random(in: 0...UInt32.max))/"
        let timings = TimingLog()
        let watch = try await store.watch(.prefix(prefix))
        let watcher = Task {
            for try await event in watch {
                let now = ContinuousClock.now
                timings.withLock { $0.delivered[event.version] = now }
            }
        }
        let value = [UInt8](repeating: UInt8(ascii: "m"), count: self.valueSize)
        let clock = ContinuousClock()
        let deadline = clock.now + self.duration
        let start = clock.now
        let histograms = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for writer in 0..<self.inFlight {
                group.addTask {
                    var histogram = makeLatencyHistogram()
                    let key = "\(prefix)k\(writer)"
                    var expectation = Expectation.absent
                    repeat {
                        let began = clock.now
                        let version = try await store.put(key, value: value, expecting: expectation)
                        let ended = clock.now
                        _ = histogram.record(Self.nanoseconds(ended - began))
                        timings.withLock { $0.acknowledged[version] = ended }
                        expectation = .version(version)
                        // A store that answers without suspending must not starve the watcher.
                        await Task.yield()
                    } while clock.now < deadline
                    return histogram
                }
            }
            var merged = makeLatencyHistogram()
            for try await histogram in group { merged.add(histogram) }
            return merged
        }
        let elapsed = clock.now - start
        // Give the watch time to catch up with the last writes, then stop it.
        let expected = timings.withLock { $0.acknowledged.count }
        let drainDeadline = clock.now + .seconds(5)
        while timings.withLock({ $0.delivered.count }) < expected, clock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        watcher.cancel()
        var watchHistogram = makeLatencyHistogram()
        var missing = 0
        timings.withLock { timings in
            for (version, acknowledged) in timings.acknowledged {
                guard let delivered = timings.delivered[version] else {
                    missing += 1
                    continue
                }
                _ = watchHistogram.record(delivered > acknowledged ? Self.nanoseconds(delivered - acknowledged) : 1_000)
            }
        }
        for writer in 0..<self.inFlight {
            try? await store.delete("\(prefix)k\(writer)")
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(histograms.totalCount) / seconds
        return PerfReport(
            msgRate: rate,
            mbPerSec: rate * Double(self.valueSize) / 1e6,
            latencyMs: .init(nanoseconds: histograms),
            watchLatencyMs: .init(nanoseconds: watchHistogram),
            description: "compare-and-set puts of \(self.valueSize) B with \(self.inFlight) in flight; "
                + "\(histograms.totalCount) puts, \(missing) not seen by the watch"
        )
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000))
    }
}
