public import Logging
import Metadata
public import ServiceLifecycle

/// A whole bookie: storage, network server, registration in the metadata store, periodic
/// flushing, and an orderly stop.
///
/// ``run(configuring:)`` binds the ports, then opens the store, then runs every
/// long-running part as a service of one `ServiceGroup`, in this order: the journal (which
/// closes the store last), the flusher, the garbage collector, the disk watcher, the
/// bookie protocol server, the HTTP server, the registration. Graceful shutdown runs in
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
        /// Entry logs with less live data than this fraction are compacted (default 0.5).
        public var compactionThreshold: Double
        /// The most bytes per second compaction copies (default 32 MiB).
        public var compactionRate: Int
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

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
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
            var group = ServiceGroupConfiguration(services: try await self.start(metadata: metadata), logger: self.logger)
            group.maximumGracefulShutdownDuration = .seconds(10)
            adjust(&group)
            try await ServiceGroup(configuration: group).run()
        }
        await metadata.close()
        self.logger.info("bookie stopped", metadata: ["id": "\(self.configuration.id)"])
        try outcome.get()
    }
}
