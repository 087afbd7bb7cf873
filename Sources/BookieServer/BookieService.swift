public import Autorecovery
public import CoreMetrics
public import Logging
import MagnetarHTTP
import Metrics
import NIOPosix
public import Prometheus
import Metadata
public import ServiceLifecycle

/// A whole bookie: storage, network server, registration in the metadata store, periodic
/// flushing, and an orderly stop.
///
/// ``run(configuring:)`` binds the ports, then opens the store, then runs every
/// long-running part as a service of one `ServiceGroup`, in this order: the journal (which
/// closes the store last), the flusher, the garbage collector, the disk watcher, the
/// bookie protocol server, the HTTP server, autorecovery (unless turned off), the
/// registration. Graceful shutdown runs in
/// reverse: the registration goes first (brokers stop choosing the bookie), the servers
/// stop accepting and close their connections, the loops stop, the flusher flushes once
/// more, and the journal service flushes and closes the store. A service that fails or
/// ends early shuts the rest down the same way, and the group then throws its error.
public final class BookieService: Sendable {
    /// Everything a bookie is started with. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        public var id: String
        public var host: String
        public var port: Int
        /// Port of `/metrics` and `/health` on `host` (0 picks one; nil serves no HTTP).
        public var httpPort: Int?
        public var journalDirectory: String
        /// Ledger storage directories, each with entry logs; the first also holds the
        /// index.
        public var ledgerDirectories: [String]
        public var metadataURL: String
        public var rack: String?
        /// `fdatasync` each journal group before acknowledging (default true).
        public var journalSync: Bool
        /// How often the write cache is flushed to entry logs (default 1 s).
        public var flushInterval: Duration
        /// TTL of the registration session (default 10 s).
        public var sessionTTL: Duration
        /// When to turn read-only and back (default past 95% disk use, back at 90%).
        public var diskMonitor: DiskMonitor
        /// The fraction of a data directory's disk in use; `statvfs` unless replaced
        /// (tests do). The fullest of the journal and ledger directories decides.
        public var diskUsage: @Sendable (String) -> Double
        /// How often deleted ledgers are looked for and entry logs compacted (default 5 min).
        public var garbageCollectionInterval: Duration
        /// How often a garbage collection also drops this bookie's copies of ledgers that
        /// no longer name it (default 1 h, at the first collection after that; nil: never;
        /// BookKeeper's gcOverreplicatedLedgerWaitTime). It reads every such ledger's metadata.
        public var overReplicationCheckInterval: Duration? = .seconds(3600)
        /// Entry logs with less live data than this fraction are compacted (default 0.5).
        public var compactionThreshold: Double
        /// The most bytes per second compaction copies (default 32 MiB).
        public var compactionRate: Int
        /// Run autorecovery (the auditor and a re-replication worker) in this bookie
        /// (default true; BookKeeper's autoRecoveryDaemonEnabled).
        public var autorecovery: Bool = true
        /// Autorecovery's timings and copy rate; its id and session TTL are the bookie's.
        public var autorecoverySettings = AutorecoveryService.Configuration(id: "")
        /// Requests of one connection read and not answered past which the bookie stops
        /// reading it until half are answered (default 10 000; `max-pending-requests-per-connection`).
        public var maxPendingRequestsPerConnection = BookieRequestHandler.defaultMaxPendingRequests
        /// For tests only: a wait before every journal sync, as a slow disk would add
        /// (default zero; the bookie's `--testing-journal-sync-delay-ms`).
        public var testingJournalSyncDelay: Duration = .zero

        public init(
            id: String,
            host: String,
            port: Int,
            httpPort: Int? = nil,
            journalDirectory: String,
            ledgerDirectories: [String],
            metadataURL: String,
            rack: String? = nil,
            journalSync: Bool = true,
            flushInterval: Duration = .seconds(1),
            sessionTTL: Duration = .seconds(10),
            diskMonitor: DiskMonitor = DiskMonitor(),
            diskUsage: @escaping @Sendable (String) -> Double = DiskSpace.usage(of:),
            garbageCollectionInterval: Duration = .seconds(300),
            compactionThreshold: Double = 0.5,
            compactionRate: Int = 32 << 20
        ) {
            self.id = id
            self.host = host
            self.port = port
            self.httpPort = httpPort
            self.journalDirectory = journalDirectory
            self.ledgerDirectories = ledgerDirectories
            self.metadataURL = metadataURL
            self.rack = rack
            self.journalSync = journalSync
            self.flushInterval = flushInterval
            self.sessionTTL = sessionTTL
            self.diskMonitor = diskMonitor
            self.diskUsage = diskUsage
            self.garbageCollectionInterval = garbageCollectionInterval
            self.compactionThreshold = compactionThreshold
            self.compactionRate = compactionRate
        }

        /// The fullest data directory's usage, the journal's included.
        func diskUsageOfFullest() -> Double {
            ([self.journalDirectory] + self.ledgerDirectories).map(self.diskUsage).max() ?? 0
        }
    }

    let configuration: Configuration
    let logger: Logger
    let metricsFactory: any MetricsFactory
    let metricsRegistry: PrometheusCollectorRegistry?

    /// The bookie's metrics are made from `metricsFactory`; `/metrics` serves
    /// `metricsRegistry` (no `/metrics` without one).
    public init(
        configuration: Configuration,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        metricsRegistry: PrometheusCollectorRegistry? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.metricsRegistry = metricsRegistry
    }

    /// Binds the ports, checks the cookies, opens the store and registers, then runs the
    /// bookie's service group until graceful shutdown (see the type's comment) or
    /// cancellation, and closes the metadata store. `adjust` changes the group's
    /// configuration before it runs: the bookie's entry point adds the signals that shut
    /// it down. Graceful shutdown takes at most 10 s unless `adjust` says otherwise; then
    /// the group is cancelled.
    public func run(configuring adjust: (inout ServiceGroupConfiguration) -> Void = { _ in }) async throws {
        let metadata = try await MetadataStoreURL.open(self.configuration.metadataURL, logger: self.logger)
        let outcome = await Result { () async throws -> Void in
            let parts = BookieParts(metrics: BookieMetrics(factory: self.metricsFactory))
            // The HTTP server runs from before the store opens (a taken port stops the
            // bookie before it touches its data) until its service in the group stops it.
            let http = self.configuration.httpPort.map { port in
                HTTPServer(
                    host: self.configuration.host, port: port,
                    router: Self.router(store: parts.opened, metrics: parts.metrics, registry: self.metricsRegistry, pool: parts.pool),
                    logger: self.logger
                )
            }
            try await withThrowingTaskGroup(of: Void.self) { serving in
                var httpPort: Int?
                if let http {
                    serving.addTask { try await http.run() }
                    httpPort = try await http.boundPort()
                }
                let services = try await self.start(
                    metadata: metadata, parts: parts, http: http.map { BookieHTTPService(server: $0) }, httpPort: httpPort
                )
                var group = ServiceGroupConfiguration(services: services, logger: self.logger)
                group.maximumGracefulShutdownDuration = .seconds(10)
                adjust(&group)
                do {
                    try await ServiceGroup(configuration: group).run()
                } catch {
                    http?.stop()
                    throw error
                }
                http?.stop()
                try await serving.waitForAll()
            }
        }
        await metadata.close()
        self.logger.info("bookie stopped", metadata: ["id": "\(self.configuration.id)"])
        try outcome.get()
    }
}
