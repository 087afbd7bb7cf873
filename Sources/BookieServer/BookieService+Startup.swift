import Autorecovery
import BookieStorage
import Logging
import Metadata
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

extension BookieService {
    /// Binds the bookie port, checks the cookies, opens the store (replaying the journal on
    /// a thread pool), starts serving and registers; returns the bookie's services in group
    /// order. Whatever was opened is closed again when a step fails. The HTTP server,
    /// already bound at `httpPort`, joins the group as `http`.
    func start(
        metadata: any MetadataStore, parts: BookieParts, http: BookieHTTPService?, httpPort: Int?
    ) async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let configuration = self.configuration
        guard !configuration.ledgerDirectories.isEmpty else {
            throw StorageError(.io, "a bookie needs at least one ledger directory")
        }
        let (metrics, opened, pool) = (parts.metrics, parts.opened, parts.pool)
        // The ports first: a bookie that cannot serve must not touch its data directories
        // (a supervisor restarting it would otherwise write files at every attempt).
        let server: BookieServer
        do {
            server = try await BookieServer.bind(
                .init(host: configuration.host, port: configuration.port, maxPendingRequestsPerConnection: configuration.maxPendingRequestsPerConnection),
                group: MultiThreadedEventLoopGroup.singleton
            )
        } catch {
            throw StorageError(.io, "cannot listen on \(configuration.host):\(configuration.port) (bookie): \(error)")
        }
        let store: BookieStore
        do {
            let horizon = try await self.checkCookies(metadata: metadata)
            var journal = Journal.Configuration(directory: configuration.journalDirectory, syncEachGroup: configuration.journalSync)
            journal.syncObserver = { [timer = metrics.journalSyncLatency] in timer.record(duration: $0) }
            journal.testingSyncDelay = configuration.testingJournalSyncDelay
            let storeConfiguration = BookieStore.Configuration(
                journal: journal, ledgerDirectories: configuration.ledgerDirectories, unknownStateHorizon: horizon
            )
            // Replay reads and writes files: not on the cooperative pool.
            store = try await NIOThreadPool.singleton.runIfActive { try BookieStore.open(storeConfiguration) }
        } catch {
            try? await server.close()
            throw error
        }
        pool.start()
        opened.set(store)
        let registrar: Registrar
        let monitor: DiskMonitor
        do {
            try await server.serve(
                store: store, blockingPool: pool, metrics: metrics, keys: MetadataLedgerKeys(metadata: metadata),
                info: { DiskSpace.info(of: configuration.ledgerDirectories, readOnly: store.isReadOnly) }
            )
            var starting = configuration.diskMonitor
            _ = starting.observe(usage: try await NIOThreadPool.singleton.runIfActive { configuration.diskUsageOfFullest() })
            monitor = starting
            store.isReadOnly = monitor.readOnly || store.journalFailure != nil
            store.isFull = monitor.full
            if let failure = store.journalFailure {
                self.logger.warning("starting read-only: the journal cannot write", metadata: ["error": "\(failure)"])
            }
            let address = "\(configuration.host):\(server.localPort)"
            registrar = try await Registrar(
                metadata: metadata, key: ClusterLayout.availableBookie(configuration.id), ttl: configuration.sessionTTL,
                logger: self.logger, isReadOnly: { store.isReadOnly }
            ) { readOnly in
                Registrar.Value(address: address, httpPort: httpPort, rack: configuration.rack, state: readOnly ? "read-only" : "writable")
            }
        } catch {
            try? await server.close()
            try? await pool.shutdownGracefully()
            try? await NIOThreadPool.singleton.runToCompletion { store.close() }
            throw error
        }
        return self.services(
            store: store, server: server, http: http.map { ($0, httpPort ?? 0) }, registrar: registrar, monitor: monitor, metadata: metadata
        )
    }

    /// The bookie's services in group order: graceful shutdown runs from the last to the
    /// first, each stopping before the next is told to. Every service shuts the group
    /// down gracefully when it ends or fails, so that the store is still closed last.
    private func services(
        store: BookieStore,
        server: BookieServer,
        http: (service: BookieHTTPService, port: Int)?,
        registrar: Registrar,
        monitor: DiskMonitor,
        metadata: any MetadataStore
    ) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let users = StoreUsers()
        let usingStore: (any Service) -> any Service = { service in
            users.enter()
            return StoreUser(service: service, users: users)
        }
        var services: [(any Service, String)] = [
            (JournalService(store: store, users: users, logger: self.logger), "journal"),
            (usingStore(FlushService(store: store, interval: self.configuration.flushInterval, logger: self.logger)), "flusher"),
            (usingStore(GarbageCollector(store: store, metadata: metadata, configuration: self.configuration, logger: self.logger)), "garbage collector"),
            (usingStore(DiskWatcher(store: store, registrar: registrar, configuration: self.configuration, monitor: monitor, logger: self.logger)), "disk watcher"),
            (usingStore(server), "bookie server"),
        ]
        if let http { services.append((usingStore(http.service), "HTTP server")) }
        if self.configuration.autorecovery {
            var settings = self.configuration.autorecoverySettings
            settings.id = self.configuration.id
            settings.sessionTTL = self.configuration.sessionTTL
            services.append(
                (AutorecoveryService(metadata: metadata, configuration: settings, logger: self.logger, metricsFactory: self.metricsFactory), "autorecovery")
            )
        }
        let logger = self.logger
        let address = "\(self.configuration.host):\(server.localPort)"
        let httpAddress = http.map { "\(self.configuration.host):\($0.port)" } ?? "off"
        let registration = AnnouncedService(service: registrar) { [id = self.configuration.id] in
            logger.info("bookie serving", metadata: ["id": "\(id)", "address": "\(address)", "http": "\(httpAddress)"])
        }
        services.append((registration as any Service, "registration"))
        return services.map { service, name in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup,
                serviceName: name
            )
        }
    }
}

/// What the bookie's parts share from before the store opens: its metrics, the slot the
/// opened store is put in (the HTTP routes answer 503 until then), and the thread pool of
/// blocking requests.
struct BookieParts: Sendable {
    let metrics: BookieMetrics
    let opened = StoreSlot()
    let pool = NIOThreadPool(numberOfThreads: 2)
}
