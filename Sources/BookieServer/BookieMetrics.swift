public import CoreMetrics
import Metrics

/// The bookie's metrics, through swift-metrics, named as BookKeeper names them so existing
/// dashboards and alerts apply. Latencies are timers (histograms in seconds with
/// Prometheus; ``durationBuckets`` are the buckets BookKeeper's latencies want).
///
/// The metric objects are made once, from the factory given (by default the process's
/// `MetricsSystem`, which an executable bootstraps; a test passes a factory of its own).
public final class BookieMetrics: Sendable {
    let addLatency: CoreMetrics.Timer
    let readLatency: CoreMetrics.Timer
    let addFailures: Counter
    let readFailures: Counter
    let journalSyncLatency: CoreMetrics.Timer
    let bytesWritten: Counter
    let bytesRead: Counter
    let journalQueueSize: Gauge
    let ledgerCount: Gauge
    let serverStatus: Gauge
    let writeCacheSize: Gauge

    /// Histogram buckets for the bookie's timers, by metric name (for
    /// `PrometheusMetricsFactory.durationHistogramBuckets`).
    public static let durationBuckets: [String: [Duration]] = {
        let requestBuckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1),
        ]
        return [Names.addLatency: requestBuckets, Names.readLatency: requestBuckets, Names.journalSyncLatency: requestBuckets]
    }()

    private enum Names {
        static let addLatency = "bookkeeper_server_ADD_ENTRY_REQUEST"
        static let readLatency = "bookkeeper_server_READ_ENTRY_REQUEST"
        static let journalSyncLatency = "bookie_journal_JOURNAL_SYNC"
    }

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        // Seconds from an add's arrival to its acknowledgement (successful adds).
        self.addLatency = CoreMetrics.Timer(label: Names.addLatency, dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        // Seconds from a read's arrival to its answer (successful reads, long polls excluded).
        self.readLatency = CoreMetrics.Timer(label: Names.readLatency, dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        self.addFailures = Counter(label: "bookkeeper_server_ADD_ENTRY_FAILED", factory: factory)
        self.readFailures = Counter(label: "bookkeeper_server_READ_ENTRY_FAILED", factory: factory)
        // Seconds each journal fdatasync took.
        self.journalSyncLatency = CoreMetrics.Timer(
            label: Names.journalSyncLatency, dimensions: [], preferredDisplayUnit: .seconds, factory: factory
        )
        // Entry bytes acknowledged, and served by reads.
        self.bytesWritten = Counter(label: "bookie_WRITE_BYTES", factory: factory)
        self.bytesRead = Counter(label: "bookie_READ_BYTES", factory: factory)
        // Records waiting for the journal thread.
        self.journalQueueSize = Gauge(label: "bookie_journal_JOURNAL_QUEUE_SIZE", factory: factory)
        // Ledgers this bookie holds.
        self.ledgerCount = Gauge(label: "bookie_ledgers_count", factory: factory)
        // 1 when writable, 0 when read-only.
        self.serverStatus = Gauge(label: "bookie_SERVER_STATUS", factory: factory)
        // Bytes of acknowledged entries waiting for a flush.
        self.writeCacheSize = Gauge(label: "bookie_write_cache_size", factory: factory)
    }
}
