import BookieStorage
import BookieWire
import Foundation
import HTTPServing
import Prometheus
public import Logging
import Metadata
import NIOCore
import NIOHTTP1
import NIOPosix
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
        /// The fraction of a ledger directory's disk in use; `statvfs` unless replaced
        /// (tests do). The fullest directory decides.
        public var diskUsage: @Sendable (String) -> Double
        /// How often deleted ledgers are looked for and entry logs compacted (default 5 min).
        public var garbageCollectionInterval: Duration
        /// Entry logs with less live data than this fraction are compacted (default 0.5).
        public var compactionThreshold: Double
        /// The most bytes per second compaction copies (default 32 MiB).
        public var compactionRate: Int

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

        /// The fullest ledger directory's usage.
        func ledgerDiskUsage() -> Double {
            self.ledgerDirectories.map(self.diskUsage).max() ?? 0
        }
    }

    private let configuration: Configuration
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
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
        let metrics = BookieMetrics()
        let store: BookieStore
        do {
            let horizon = try await self.checkCookies(metadata: metadata)
            var journal = Journal.Configuration(directory: configuration.journalDirectory, syncEachGroup: configuration.journalSync)
            journal.syncObserver = { [histogram = metrics.journalSyncLatency] in histogram.record($0) }
            store = try BookieStore.open(
                .init(journal: journal, ledgerDirectories: configuration.ledgerDirectories, unknownStateHorizon: horizon)
            )
        } catch {
            await metadata.close()
            throw error
        }
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let server = try await BookieServer.start(
            .init(host: configuration.host, port: configuration.port),
            store: store,
            group: MultiThreadedEventLoopGroup.singleton,
            blockingPool: pool,
            metrics: metrics,
            info: { DiskSpace.info(of: configuration.ledgerDirectories, readOnly: store.isReadOnly) }
        )
        let http = try await configuration.httpPort.asyncMap { port in
            try await HTTPServer.start(
                host: configuration.host, port: port, router: Self.router(store: store, metrics: metrics, pool: pool),
                group: MultiThreadedEventLoopGroup.singleton
            )
        }
        let address = "\(configuration.host):\(server.localPort)"
        let session = try await metadata.createSession(ttl: configuration.sessionTTL)
        let register: @Sendable (Bool) async throws -> Void = { readOnly in
            let registration = Registration(
                address: address, httpPort: http?.localPort, rack: configuration.rack, state: readOnly ? "read-only" : "writable"
            )
            try await metadata.put(
                ClusterLayout.availableBookie(configuration.id),
                value: Array(try JSONEncoder().encode(registration)),
                session: session
            )
        }
        var monitor = configuration.diskMonitor
        _ = monitor.observe(usage: configuration.ledgerDiskUsage())
        store.isReadOnly = monitor.readOnly
        try await register(monitor.readOnly)
        let startingMonitor = monitor
        self.logger.info(
            "bookie serving",
            metadata: ["id": "\(configuration.id)", "address": "\(address)", "http": "\(http.map { "\(configuration.host):\($0.localPort)" } ?? "off")"]
        )

        await cancelWhenGracefulShutdown {
            await Self.runLoops(
                metadata: metadata, session: session, store: store, pool: pool, configuration: configuration,
                monitor: startingMonitor, register: register, logger: self.logger
            )
        }

        self.logger.info("bookie stopping", metadata: ["id": "\(configuration.id)"])
        try? await server.close()
        try? await http?.close()
        try? await pool.shutdownGracefully()
        try store.flush()
        store.close()
        try? await metadata.closeSession(session)
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
        session: MetadataSession,
        store: BookieStore,
        pool: NIOThreadPool,
        configuration: Configuration,
        monitor: DiskMonitor,
        register: @escaping @Sendable (Bool) async throws -> Void,
        logger: Logger
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                var monitor = monitor
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.flushInterval)
                    guard monitor.observe(usage: configuration.ledgerDiskUsage()) else { continue }
                    store.isReadOnly = monitor.readOnly
                    logger.warning("bookie is now \(monitor.readOnly ? "read-only" : "writable")")
                    do {
                        try await register(monitor.readOnly)
                    } catch {
                        logger.error("could not update the registration", metadata: ["error": "\(error)"])
                    }
                }
            }
            group.addTask {
                do {
                    try await metadata.keepSessionAlive(session)
                } catch {
                    logger.error("lost the metadata session", metadata: ["error": "\(error)"])
                }
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

    /// Deletes the ledgers whose metadata is gone and compacts entry logs that are mostly
    /// garbage. A ledger counts as deleted only if its id was allocated (so ledgers
    /// written without metadata, as benchmarks do, are kept) and its metadata is absent
    /// after the bookie listed it (metadata exists before a ledger's first add).
    static func collectGarbage(
        store: BookieStore,
        metadata: any MetadataStore,
        pool: NIOThreadPool,
        configuration: Configuration,
        logger: Logger
    ) async throws {
        let held = try await pool.runIfActive { try store.ledgerIDs() }
        let allocated = UInt64(max(0, try await metadata.currentID(ClusterLayout.ledgerIDCounter)))
        let existing = Set(try await metadata.children(of: ClusterLayout.ledgers).compactMap { UInt64($0) })
        let deleted = held.filter { $0 <= allocated && !existing.contains($0) }
        if !deleted.isEmpty {
            try await pool.runIfActive { try store.deleteLedgers(deleted) }
            logger.info("deleted ledgers whose metadata is gone", metadata: ["count": "\(deleted.count)"])
        }
        let limiter = RateLimiter(bytesPerSecond: configuration.compactionRate)
        let result = try await pool.runIfActive {
            try store.compact(belowLiveRatio: configuration.compactionThreshold, pace: { limiter.pace($0) })
        }
        if result.logsRemoved > 0 {
            logger.info(
                "compacted entry logs",
                metadata: ["removed": "\(result.logsRemoved)", "moved": "\(result.bytesMoved)", "reclaimed": "\(result.bytesReclaimed)"]
            )
        }
    }

    /// `/metrics` (Prometheus text) and `/health` (200 while the journal works, else 503).
    static func router(store: BookieStore, metrics: BookieMetrics, pool: NIOThreadPool) -> HTTPRouter {
        var router = HTTPRouter()
        router.get("/metrics") { _ in
            let ledgers = try await pool.runIfActive { try store.ledgerIDs().count }
            metrics.ledgerCount.set(Double(ledgers))
            metrics.journalQueueSize.set(Double(store.journalQueueDepth))
            metrics.serverStatus.set(Double(store.isReadOnly ? 0 : 1))
            metrics.writeCacheSize.set(Double(store.cachedBytes))
            return .prometheus(metrics.registry)
        }
        router.get("/health") { _ in
            if let failure = store.journalFailure {
                return .error(.serviceUnavailable, reason: "the journal failed: \(failure.message)")
            }
            return try .json(["status": "ok", "state": store.isReadOnly ? "read-only" : "writable"])
        }
        return router
    }

    /// The value of `/bookies/available/<id>`.
    struct Registration: Codable {
        var address: String
        var httpPort: Int?
        var rack: String?
        var state: String
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

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// Spaces out work to a byte rate: ``pace(_:)`` sleeps the calling thread as long as the
/// bytes so far are ahead of the rate.
final class RateLimiter: Sendable {
    private let bytesPerSecond: Double
    private let start = ContinuousClock.now
    private let total = Mutex(0)

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = Double(max(1, bytesPerSecond))
    }

    func pace(_ bytes: Int) {
        let done = self.total.withLock { total in
            total += bytes
            return total
        }
        let due = Duration.seconds(Double(done) / self.bytesPerSecond)
        let elapsed = ContinuousClock.now - self.start
        if elapsed < due {
            let wait = due - elapsed
            Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        }
    }
}
