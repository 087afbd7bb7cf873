import BookieStorage
import BookieWire
import Foundation
public import CoreMetrics
public import Logging
import MagnetarHTTP
import Metadata
import Metrics
import NIOCore
import NIOPosix
public import Prometheus
public import ServiceLifecycle
import Synchronization

/// A whole bookie: storage, network server, registration in the metadata store, periodic
/// flushing, and an orderly stop.
public final class BookieService: Service {
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

    private let configuration: Configuration
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let metricsRegistry: PrometheusCollectorRegistry?

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

    /// Runs the bookie until graceful shutdown (SIGTERM in a service group) or
    /// cancellation, then stops accepting connections, flushes, closes the journal and
    /// deregisters.
    public func run() async throws {
        let configuration = self.configuration
        guard !configuration.ledgerDirectories.isEmpty else {
            throw StorageError(.io, "a bookie needs at least one ledger directory")
        }
        let metadata = try await MetadataStoreURL.open(configuration.metadataURL, logger: self.logger)
        let metrics = BookieMetrics(factory: self.metricsFactory)
        // The ports first: a bookie that cannot serve must not touch its data directories
        // (a supervisor restarting it would otherwise write files at every attempt).
        let server: BookieServer
        let opened = StoreSlot()
        let pool = NIOThreadPool(numberOfThreads: 2)
        let http = configuration.httpPort.map { port in
            HTTPServer(
                host: configuration.host, port: port,
                router: Self.router(store: opened, metrics: metrics, registry: self.metricsRegistry, pool: pool), logger: self.logger
            )
        }
        async let serving: Void? = http?.run()
        let httpPort: Int?
        do {
            server = try await BookieServer.bind(.init(host: configuration.host, port: configuration.port), group: MultiThreadedEventLoopGroup.singleton)
            do {
                httpPort = try await http?.boundPort()
            } catch {
                try? await server.close()
                throw error
            }
        } catch {
            await metadata.close()
            throw StorageError(.io, "cannot listen on \(configuration.host):\(configuration.port) (bookie) or port \(configuration.httpPort.map(String.init) ?? "-") (HTTP): \(error)")
        }
        let store: BookieStore
        do {
            let horizon = try await self.checkCookies(metadata: metadata)
            var journal = Journal.Configuration(directory: configuration.journalDirectory, syncEachGroup: configuration.journalSync)
            journal.syncObserver = { [timer = metrics.journalSyncLatency] in timer.record(duration: $0) }
            journal.testingSyncDelay = configuration.testingJournalSyncDelay
            store = try BookieStore.open(
                .init(journal: journal, ledgerDirectories: configuration.ledgerDirectories, unknownStateHorizon: horizon)
            )
        } catch {
            try? await server.close()
            http?.stop()
            await metadata.close()
            throw error
        }
        pool.start()
        opened.set(store)
        try await server.serve(
            store: store, blockingPool: pool, metrics: metrics,
            info: { DiskSpace.info(of: configuration.ledgerDirectories, readOnly: store.isReadOnly) }
        )
        let address = "\(configuration.host):\(server.localPort)"
        var monitor = configuration.diskMonitor
        _ = monitor.observe(usage: configuration.diskUsageOfFullest())
        store.isReadOnly = monitor.readOnly || store.journalFailure != nil
        if let failure = store.journalFailure {
            self.logger.warning("starting read-only: the journal cannot write", metadata: ["error": "\(failure)"])
        }
        let registration = try await Registrar(
            metadata: metadata, key: ClusterLayout.availableBookie(configuration.id), ttl: configuration.sessionTTL,
            readOnly: store.isReadOnly, logger: self.logger
        ) { readOnly in
            Registrar.Value(address: address, httpPort: httpPort, rack: configuration.rack, state: readOnly ? "read-only" : "writable")
        }
        let startingMonitor = monitor
        self.logger.info(
            "bookie serving",
            metadata: ["id": "\(configuration.id)", "address": "\(address)", "http": "\(httpPort.map { "\(configuration.host):\($0)" } ?? "off")"]
        )

        await cancelWhenGracefulShutdown {
            await Self.runLoops(
                metadata: metadata, registration: registration, store: store, pool: pool, configuration: configuration,
                monitor: startingMonitor, logger: self.logger
            )
        }

        self.logger.info("bookie stopping", metadata: ["id": "\(configuration.id)"])
        try? await server.close()
        http?.stop()
        do {
            try await serving
        } catch {
            self.logger.warning("the HTTP server failed", metadata: ["error": "\(error)"])
        }
        try? await pool.shutdownGracefully()
        try store.flush()
        store.close()
        await registration.close()
        await metadata.close()
    }

    /// Compares the cookies in the data directories and the metadata store with each other
    /// and the configuration, formats a new bookie, and records a data loss. Returns the
    /// unknown-state horizon the storage opens with.
    private func checkCookies(metadata: any MetadataStore) async throws -> UInt64 {
        let configuration = self.configuration
        var paths: [String] = []
        for path in [configuration.journalDirectory] + configuration.ledgerDirectories where !paths.contains(path) {
            paths.append(path)
        }
        let directories = try paths.map(CookieCheck.inspect)
        let key = ClusterLayout.cookie(configuration.id)
        let stored = try await metadata.get(key)
        let registered: Cookie?
        do {
            registered = try stored.map { try JSONDecoder().decode(Cookie.self, from: Data($0.value)) }
        } catch {
            throw CookieCheck.Mismatch(description: "the cookie at \(key) in the metadata store cannot be read: \(error)")
        }
        let expected = Cookie(
            bookieID: configuration.id, journalDirectory: configuration.journalDirectory,
            ledgerDirectories: configuration.ledgerDirectories
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        switch try CookieCheck.verdict(expected: expected, registered: registered, directories: directories) {
        case .format(let cookie):
            for path in paths { try CookieCheck.write(cookie, into: path) }
            try await metadata.put(key, value: Array(try encoder.encode(cookie)), expecting: .absent)
            self.logger.info("formatted a new bookie", metadata: ["id": "\(cookie.bookieID)", "instance": "\(cookie.instanceID)"])
            return cookie.unknownStateHorizon
        case .matches(let cookie):
            return cookie.unknownStateHorizon
        case .dataLost(var cookie, let emptied):
            let allocated = try await metadata.currentID(ClusterLayout.ledgerIDCounter)
            cookie.unknownStateHorizon = max(cookie.unknownStateHorizon, UInt64(allocated))
            // The store first, so that a crash before the directories are written repeats
            // this step rather than forgetting the loss.
            try await metadata.put(key, value: Array(try encoder.encode(cookie)), expecting: .version(stored!.version))
            for path in paths { try CookieCheck.write(cookie, into: path) }
            self.logger.warning(
                "data directories were found empty: ledgers up to the horizon may have lost entries here and will answer UNKNOWN_LEDGER_STATE",
                metadata: ["emptied": "\(emptied.joined(separator: ","))", "horizon": "\(cookie.unknownStateHorizon)"]
            )
            return cookie.unknownStateHorizon
        }
    }

    /// Keeps the session alive and flushes periodically until cancelled.
    private static func runLoops(
        metadata: any MetadataStore,
        registration: Registrar,
        store: BookieStore,
        pool: NIOThreadPool,
        configuration: Configuration,
        monitor: DiskMonitor,
        logger: Logger
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var monitor = monitor
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.flushInterval)
                    await Self.checkWritability(store: store, monitor: &monitor, registration: registration, pool: pool, configuration: configuration, logger: logger)
                }
            }
            group.addTask {
                await registration.maintain { store.isReadOnly }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.flushInterval)
                    if Task.isCancelled { break }  // The final flush happens at stop.
                    do {
                        try await pool.runIfActive { try store.flush() }
                    } catch {
                        logger.error("flush failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            group.addTask {
                let collectorPool = NIOThreadPool(numberOfThreads: 1)
                collectorPool.start()
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.garbageCollectionInterval)
                    if Task.isCancelled { break }
                    do {
                        try await Self.collectGarbage(store: store, metadata: metadata, pool: collectorPool, configuration: configuration, logger: logger)
                    } catch {
                        logger.error("garbage collection failed", metadata: ["error": "\(error)"])
                    }
                }
                try? await collectorPool.shutdownGracefully()
            }
            // Every loop ends when the surrounding task is cancelled.
            await group.waitForAll()
        }
    }

}

/// The store once it is open, for servers bound before it.
final class StoreSlot: Sendable {
    private let value = Mutex<BookieStore?>(nil)

    var store: BookieStore? { self.value.withLock { $0 } }

    func set(_ store: BookieStore) {
        self.value.withLock { $0 = store }
    }
}

/// Free and total space of the file systems holding directories.
public enum DiskSpace {
    /// Free and total bytes over the distinct file systems holding `directories`.
    static func info(of directories: [String], readOnly: Bool) -> BookieInfo {
        var seen = Set<UInt64>()
        var info = BookieInfo(freeBytes: 0, totalBytes: 0, readOnly: readOnly)
        for directory in directories {
            var stats = statvfs()
            guard statvfs(directory, &stats) == 0, seen.insert(UInt64(stats.f_fsid)).inserted else { continue }
            let block = UInt64(stats.f_frsize)
            info.freeBytes += UInt64(stats.f_bavail) * block
            info.totalBytes += UInt64(stats.f_blocks) * block
        }
        return info
    }

    /// The fraction of the file system holding `directory` that is in use (0 when unknown).
    public static func usage(of directory: String) -> Double {
        let info = Self.info(of: [directory], readOnly: false)
        guard info.totalBytes > 0 else { return 0 }
        return 1 - Double(info.freeBytes) / Double(info.totalBytes)
    }
}
