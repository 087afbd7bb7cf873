public import Codec
import Foundation
import Ledger
public import Logging
import MagnetarHTTP
import ManagedLedger
import Metadata
import NIOCore
import NIOPosix
public import Prometheus
import PulsarWire
public import ServiceLifecycle
import Synchronization

/// A whole broker: the Pulsar binary protocol on one port, the admin and lookup REST API
/// on another, topics stored in managed ledgers on the bookies.
public final class BrokerService: Service {
    /// Everything a broker is started with. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        public var host: String
        /// Port of the binary protocol (6650 by Pulsar's convention; 0 picks one).
        public var port: Int
        /// Port of the REST API (8080; 0 picks one).
        public var httpPort: Int
        /// The host clients are told to connect to (default: `host`).
        public var advertisedHost: String?
        public var metadataURL: String
        public var clusterName: String
        /// Persistence of new ledgers (default 2/2/2).
        public var ensembleSize: Int
        public var writeQuorum: Int
        public var ackQuorum: Int
        /// Largest message accepted (default 5 MiB).
        public var maxMessageSize: Int
        /// How batches are stored where the namespace sets no policy (default lz4).
        public var storageCompression: CompressionType
        /// Entries after which a topic's ledger is closed and the next one started (default 50 000).
        public var maxEntriesPerLedger: Int

        public init(
            host: String = "127.0.0.1", port: Int = 6650, httpPort: Int = 8080, advertisedHost: String? = nil, metadataURL: String,
            clusterName: String = "standalone", ensembleSize: Int = 2, writeQuorum: Int = 2, ackQuorum: Int = 2,
            maxMessageSize: Int = 5 << 20, storageCompression: CompressionType = .lz4, maxEntriesPerLedger: Int = 50_000
        ) {
            self.host = host
            self.port = port
            self.httpPort = httpPort
            self.advertisedHost = advertisedHost
            self.metadataURL = metadataURL
            self.clusterName = clusterName
            self.ensembleSize = ensembleSize
            self.writeQuorum = writeQuorum
            self.ackQuorum = ackQuorum
            self.maxMessageSize = maxMessageSize
            self.storageCompression = storageCompression
            self.maxEntriesPerLedger = maxEntriesPerLedger
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let metricsRegistry: PrometheusCollectorRegistry?

    /// `metricsRegistry` is what `/metrics` serves (no `/metrics` without one).
    public init(configuration: Configuration, logger: Logger, metricsRegistry: PrometheusCollectorRegistry? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.metricsRegistry = metricsRegistry
    }

    public func run() async throws {
        let configuration = self.configuration
        let metadata = try await MetadataStoreURL.open(configuration.metadataURL, logger: self.logger)
        let group = MultiThreadedEventLoopGroup.singleton
        let clients = group.makeIterator().map { LedgerClient(metadata: metadata, eventLoop: $0) }
        var ledgerConfiguration = ManagedLedgerConfiguration()
        ledgerConfiguration.ensembleSize = configuration.ensembleSize
        ledgerConfiguration.writeQuorum = configuration.writeQuorum
        ledgerConfiguration.ackQuorum = configuration.ackQuorum
        ledgerConfiguration.maxEntriesPerLedger = configuration.maxEntriesPerLedger
        // Connections learn the broker's context once both ports are bound and it exists.
        let shared = ContextBox()
        let maxMessageSize = configuration.maxMessageSize
        let binary = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let context = shared.context else { throw BrokerError(.unknown, "the broker is starting") }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PulsarFrameDecoder(maxMessageSize: maxMessageSize)))
                    try channel.pipeline.syncOperations.addHandler(ServerConnection(broker: context))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        let advertised = configuration.advertisedHost ?? configuration.host
        let http = HTTPServer(
            host: configuration.host, port: configuration.httpPort,
            router: BrokerRoutes.router(shared, registry: self.metricsRegistry), logger: self.logger
        )
        async let serving: Void = http.run()
        let httpPort = try await http.boundPort()
        let context = BrokerContext(
            name: "\(configuration.clusterName)-\(advertised)-\(binary.localAddress?.port ?? 0)",
            serviceURL: "pulsar://\(advertised):\(binary.localAddress?.port ?? 0)",
            httpURL: "http://\(advertised):\(httpPort)",
            maxMessageSize: maxMessageSize, metadata: metadata, clients: clients, ledgerConfiguration: ledgerConfiguration,
            defaultCompression: configuration.storageCompression, logger: self.logger
        )
        try await context.createDefaultNamespace()
        shared.context = context
        self.logger.info(
            "broker serving",
            metadata: ["service": "\(context.serviceURL)", "http": "\(context.httpURL)", "metadata": "\(configuration.metadataURL)"]
        )

        // Serves until SIGTERM (graceful shutdown) or cancellation.
        try? await gracefulShutdown()

        self.logger.info("broker stopping")
        try? await binary.close()
        http.stop()
        do {
            try await serving
        } catch {
            self.logger.warning("the HTTP server failed", metadata: ["error": "\(error)"])
        }
        await context.closeTopics()
        for client in clients { await client.close() }
        await metadata.close()
    }
}

/// The broker's context once it exists; connections accepted earlier are refused.
final class ContextBox: Sendable {
    private let stored = Mutex<BrokerContext?>(nil)

    var context: BrokerContext? {
        get { self.stored.withLock { $0 } }
        set { self.stored.withLock { $0 = newValue } }
    }
}
