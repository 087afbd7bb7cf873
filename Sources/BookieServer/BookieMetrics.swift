public import Prometheus

/// The bookie's Prometheus metrics, named as BookKeeper names them so existing dashboards
/// and alerts apply. Latencies are histograms in seconds.
public final class BookieMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let addLatency: DurationHistogram
    let readLatency: DurationHistogram
    let addFailures: Counter
    let readFailures: Counter
    let journalSyncLatency: DurationHistogram
    let bytesWritten: Counter
    let bytesRead: Counter
    let journalQueueSize: Gauge
    let ledgerCount: Gauge
    let serverStatus: Gauge
    let writeCacheSize: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        let requestBuckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1),
        ]
        self.registry = registry
        self.addLatency = registry.makeDurationHistogram(
            name: "bookkeeper_server_ADD_ENTRY_REQUEST", buckets: requestBuckets,
            help: "Seconds from an add's arrival to its acknowledgement (successful adds)"
        )
        self.readLatency = registry.makeDurationHistogram(
            name: "bookkeeper_server_READ_ENTRY_REQUEST", buckets: requestBuckets,
            help: "Seconds from a read's arrival to its answer (successful reads, long polls excluded)"
        )
        self.addFailures = registry.makeCounter(name: "bookkeeper_server_ADD_ENTRY_FAILED", help: "Adds refused or failed")
        self.readFailures = registry.makeCounter(name: "bookkeeper_server_READ_ENTRY_FAILED", help: "Reads refused or failed")
        self.journalSyncLatency = registry.makeDurationHistogram(
            name: "bookie_journal_JOURNAL_SYNC", buckets: requestBuckets, help: "Seconds each journal fdatasync took"
        )
        self.bytesWritten = registry.makeCounter(name: "bookie_WRITE_BYTES", help: "Entry bytes acknowledged")
        self.bytesRead = registry.makeCounter(name: "bookie_READ_BYTES", help: "Entry bytes served by reads")
        self.journalQueueSize = registry.makeGauge(name: "bookie_journal_JOURNAL_QUEUE_SIZE", help: "Records waiting for the journal thread")
        self.ledgerCount = registry.makeGauge(name: "bookie_ledgers_count", help: "Ledgers this bookie holds")
        self.serverStatus = registry.makeGauge(name: "bookie_SERVER_STATUS", help: "1 when writable, 0 when read-only")
        self.writeCacheSize = registry.makeGauge(name: "bookie_write_cache_size", help: "Bytes of acknowledged entries waiting for a flush")
    }
}
