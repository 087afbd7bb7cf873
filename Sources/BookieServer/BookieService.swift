import BookieStorage
import BookieWire
import Foundation
public import Logging
import Metadata
import NIOCore
import NIOPosix
public import ServiceLifecycle

/// A whole bookie: storage, network server, registration in the metadata store, periodic
/// flushing, and an orderly stop.
public final class BookieService: Service {
    /// Everything a bookie is started with. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        public var id: String
        public var host: String
        public var port: Int
        public var journalDirectory: String
        /// Ledger storage directories; the first holds the index and entry logs.
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
        /// The fraction of the ledger disk in use; `statvfs` of the first ledger directory
        /// unless replaced (tests do).
        public var diskUsage: @Sendable (String) -> Double

        public init(
            id: String,
            host: String,
            port: Int,
            journalDirectory: String,
            ledgerDirectories: [String],
            metadataURL: String,
            rack: String? = nil,
            journalSync: Bool = true,
            flushInterval: Duration = .seconds(1),
            sessionTTL: Duration = .seconds(10),
            diskMonitor: DiskMonitor = DiskMonitor(),
            diskUsage: @escaping @Sendable (String) -> Double = DiskSpace.usage(of:)
        ) {
            self.id = id
            self.host = host
            self.port = port
            self.journalDirectory = journalDirectory
            self.ledgerDirectories = ledgerDirectories
            self.metadataURL = metadataURL
            self.rack = rack
            self.journalSync = journalSync
            self.flushInterval = flushInterval
            self.sessionTTL = sessionTTL
            self.diskMonitor = diskMonitor
            self.diskUsage = diskUsage
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
        guard let ledgerDirectory = configuration.ledgerDirectories.first else {
            throw StorageError(.io, "a bookie needs at least one ledger directory")
        }
        let metadata = try await MetadataStoreURL.open(configuration.metadataURL, logger: self.logger)
        let store = try BookieStore.open(
            .init(
                journal: .init(directory: configuration.journalDirectory, syncEachGroup: configuration.journalSync),
                ledgerDirectory: ledgerDirectory
            )
        )
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let server = try await BookieServer.start(
            .init(host: configuration.host, port: configuration.port),
            store: store,
            group: MultiThreadedEventLoopGroup.singleton,
            blockingPool: pool,
            info: { DiskSpace.info(of: ledgerDirectory, readOnly: store.isReadOnly) }
        )
        let address = "\(configuration.host):\(server.localPort)"
        let session = try await metadata.createSession(ttl: configuration.sessionTTL)
        let register: @Sendable (Bool) async throws -> Void = { readOnly in
            let registration = Registration(address: address, rack: configuration.rack, state: readOnly ? "read-only" : "writable")
            try await metadata.put(
                "/bookies/available/\(configuration.id)",
                value: Array(try JSONEncoder().encode(registration)),
                session: session
            )
        }
        var monitor = configuration.diskMonitor
        _ = monitor.observe(usage: configuration.diskUsage(ledgerDirectory))
        store.isReadOnly = monitor.readOnly
        try await register(monitor.readOnly)
        let startingMonitor = monitor
        self.logger.info("bookie serving", metadata: ["id": "\(configuration.id)", "address": "\(address)"])

        await cancelWhenGracefulShutdown {
            await Self.runLoops(
                metadata: metadata, session: session, store: store, pool: pool, configuration: configuration,
                monitor: startingMonitor, register: register, logger: self.logger
            )
        }

        self.logger.info("bookie stopping", metadata: ["id": "\(configuration.id)"])
        try? await server.close()
        try? await pool.shutdownGracefully()
        try store.flush()
        store.close()
        try? await metadata.closeSession(session)
        await metadata.close()
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
                let directory = configuration.ledgerDirectories[0]
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.flushInterval)
                    guard monitor.observe(usage: configuration.diskUsage(directory)) else { continue }
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
            // Both loops end when the surrounding task is cancelled.
            await group.waitForAll()
        }
    }

    /// The value of `/bookies/available/<id>`.
    struct Registration: Codable {
        var address: String
        var rack: String?
        var state: String
    }
}

/// Free and total space of the file system holding a directory.
public enum DiskSpace {
    static func info(of directory: String, readOnly: Bool) -> BookieInfo {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return BookieInfo(freeBytes: 0, totalBytes: 0, readOnly: readOnly) }
        let block = UInt64(stats.f_frsize)
        return BookieInfo(freeBytes: UInt64(stats.f_bavail) * block, totalBytes: UInt64(stats.f_blocks) * block, readOnly: readOnly)
    }

    /// The fraction of the file system holding `directory` that is in use (0 when unknown).
    public static func usage(of directory: String) -> Double {
        let info = Self.info(of: directory, readOnly: false)
        guard info.totalBytes > 0 else { return 0 }
        return 1 - Double(info.freeBytes) / Double(info.totalBytes)
    }
}
