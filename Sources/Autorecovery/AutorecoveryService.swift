public import Logging
public import CoreMetrics
import Ledger
public import Metadata
import Metrics
public import ServiceLifecycle

/// Automatic re-replication, run in each bookie's service group (BookKeeper's
/// autorecovery daemon): an ``Auditor`` that, when it is the elected one, marks the
/// ledgers of lost or decommissioned bookies under-replicated, and a
/// ``ReplicationWorker`` that copies marked ledgers' fragments to replacement bookies.
/// Both run until graceful shutdown or cancellation; the session holding their keys is
/// then closed, freeing leadership and claims for other bookies at once.
public final class AutorecoveryService: Service, Sendable {
    /// Defaults are in each field's comment.
    public struct Configuration: Sendable {
        /// Who runs it (the bookie's id), written in the keys it holds.
        public var id: String
        /// Time between audits (default 30 s).
        public var auditInterval: Duration
        /// How long a bookie may be missing before its ledgers are re-replicated
        /// (default 60 s).
        public var lostBookieGrace: Duration
        /// Time between a worker's looks for marked ledgers (default 10 s).
        public var workerInterval: Duration
        /// The most entry bytes per second a worker copies (default 50 MiB; nil: no limit).
        public var bytesPerSecond: Int?
        /// TTL of the session holding the auditor's and workers' keys (default 10 s).
        public var sessionTTL: Duration

        public init(
            id: String,
            auditInterval: Duration = .seconds(30),
            lostBookieGrace: Duration = .seconds(60),
            workerInterval: Duration = .seconds(10),
            bytesPerSecond: Int? = 50 << 20,
            sessionTTL: Duration = .seconds(10)
        ) {
            self.id = id
            self.auditInterval = auditInterval
            self.lostBookieGrace = lostBookieGrace
            self.workerInterval = workerInterval
            self.bytesPerSecond = bytesPerSecond
            self.sessionTTL = sessionTTL
        }
    }

    private let metadata: any MetadataStore
    private let configuration: Configuration
    private let metrics: AutorecoveryMetrics
    private let logger: Logger

    public init(metadata: any MetadataStore, configuration: Configuration, logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metadata = metadata
        self.configuration = configuration
        self.metrics = AutorecoveryMetrics(factory: metricsFactory)
        self.logger = logger
    }

    public func run() async throws {
        let session = ReplicationSession(metadata: self.metadata, ttl: self.configuration.sessionTTL, logger: self.logger)
        let client = LedgerClient(metadata: self.metadata)
        let auditor = Auditor(metadata: self.metadata, session: session, configuration: self.configuration, metrics: self.metrics, logger: self.logger)
        let worker = ReplicationWorker(
            metadata: self.metadata, client: client, session: session, configuration: self.configuration,
            pacer: BytePacer(bytesPerSecond: self.configuration.bytesPerSecond), metrics: self.metrics, logger: self.logger
        )
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await session.maintain() }
                group.addTask { await auditor.run() }
                group.addTask { await worker.run() }
            }
        }
        await session.close()
        await client.close()
    }
}
