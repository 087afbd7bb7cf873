public import CoreMetrics
import Metrics

/// Autorecovery's metrics, named as BookKeeper's replication metrics are.
public final class AutorecoveryMetrics: Sendable {
    /// Ledgers marked under-replicated, as the auditor last counted them (leader only).
    let underReplicatedLedgers: Gauge
    /// Entry bytes copied to replacement bookies.
    let bytesCopied: Counter
    /// Ledgers re-replicated.
    let ledgersReplicated: Counter

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.underReplicatedLedgers = Gauge(label: "bookkeeper_auditor_UNDER_REPLICATED_LEDGERS", factory: factory)
        self.bytesCopied = Counter(label: "bookkeeper_replication_worker_BYTES_COPIED", factory: factory)
        self.ledgersReplicated = Counter(label: "bookkeeper_replication_worker_LEDGERS_REPLICATED", factory: factory)
    }
}
