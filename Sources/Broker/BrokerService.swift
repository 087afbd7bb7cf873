public import Codec
import Foundation
import HTTPServing
import Ledger
public import Logging
import ManagedLedger
import Metadata
import NIOCore
import NIOHTTP1
import NIOPosix
import PulsarWire
public import ServiceLifecycle
import Synchronization

/// A whole broker: the Pulsar binary protocol on one port, the admin and lookup REST API
/// on another, topics stored in managed ledgers on the bookies.
public final class BrokerService: Sendable {
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
        /// How long a topic with no producer or consumer stays loaded (default 30 minutes;
        /// nil keeps it until the broker stops).
        public var topicIdleTimeout: Duration?

        public init(
            host: String = "127.0.0.1", port: Int = 6650, httpPort: Int = 8080, advertisedHost: String? = nil, metadataURL: String,
            clusterName: String = "standalone", ensembleSize: Int = 2, writeQuorum: Int = 2, ackQuorum: Int = 2,
            maxMessageSize: Int = 5 << 20, storageCompression: CompressionType = .lz4, maxEntriesPerLedger: Int = 50_000,
            topicIdleTimeout: Duration? = .seconds(30 * 60)
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
            self.topicIdleTimeout = topicIdleTimeout
        }
    }

    /// The broker's long-running parts, to run in one `ServiceGroup` in this order:
    /// storage clients, binary server, REST server, topic manager. The group shuts them
    /// down in reverse: close every topic's ledger, telling its clients to reconnect (and
    /// load no topic from then on); stop the REST API; stop accepting and close the
    /// connections left; close the ledger clients and the metadata store.
    public let services: [any Service]
    /// `pulsar://host:port` clients are told to connect to.
    public let serviceURL: String
    /// `http://host:port` of the REST API.
    public let httpURL: String

    private init(services: [any Service], serviceURL: String, httpURL: String) {
        self.services = services
        self.serviceURL = serviceURL
        self.httpURL = httpURL
    }

    /// Connects to the metadata store, binds both ports and makes the broker's parts;
    /// nothing is served until the services run.
    public static func start(configuration: Configuration, logger: Logger) async throws -> BrokerService {
        let metadata = try await MetadataStoreURL.open(configuration.metadataURL, logger: logger)
        let group = MultiThreadedEventLoopGroup.singleton
        let clients = group.makeIterator().map { LedgerClient(metadata: metadata, eventLoop: $0) }
        let storage = BrokerStorage(metadata: metadata, clients: clients)
        do {
            var ledgerConfiguration = ManagedLedgerConfiguration()
            ledgerConfiguration.ensembleSize = configuration.ensembleSize
            ledgerConfiguration.writeQuorum = configuration.writeQuorum
            ledgerConfiguration.ackQuorum = configuration.ackQuorum
            ledgerConfiguration.maxEntriesPerLedger = configuration.maxEntriesPerLedger
            // Connections learn the broker's context once both ports are bound and it exists.
            let shared = ContextBox()
            let binary = try await PulsarServer.bind(
                host: configuration.host, port: configuration.port, maxMessageSize: configuration.maxMessageSize, shared: shared,
                group: group
            )
            let http = try await HTTPServer.start(host: configuration.host, port: configuration.httpPort, router: Self.router(shared), group: group)
            let advertised = configuration.advertisedHost ?? configuration.host
            let context = BrokerContext(
                name: "\(configuration.clusterName)-\(advertised)-\(binary.port)",
                serviceURL: "pulsar://\(advertised):\(binary.port)",
                httpURL: "http://\(advertised):\(http.localPort)",
                maxMessageSize: configuration.maxMessageSize, metadata: metadata, clients: clients, ledgerConfiguration: ledgerConfiguration,
                defaultCompression: configuration.storageCompression, topicIdleTimeout: configuration.topicIdleTimeout, logger: logger
            )
            try await context.createDefaultNamespace()
            shared.context = context
            logger.info(
                "broker serving",
                metadata: ["service": "\(context.serviceURL)", "http": "\(context.httpURL)", "metadata": "\(configuration.metadataURL)"]
            )
            return BrokerService(
                services: [storage, binary, HTTPService(server: http), context.topics], serviceURL: context.serviceURL, httpURL: context.httpURL
            )
        } catch {
            await storage.close()
            throw error
        }
    }

    // MARK: REST

    /// The endpoints Pulsar's clients call themselves (partitioned-topic metadata, HTTP
    /// lookup, a namespace's topics) and the namespace admin API: create and list
    /// namespaces, and their persistence and storage compression policies. Errors are
    /// `{"reason": …}` with Pulsar's statuses.
    static func router(_ shared: ContextBox) -> HTTPRouter {
        var router = HTTPRouter()
        @Sendable func context() throws -> BrokerContext {
            guard let context = shared.context else { throw HTTPError(.serviceUnavailable, reason: "the broker is starting") }
            return context
        }
        @Sendable func topic(_ request: HTTPRequest) throws -> TopicName {
            let parameters = request.parameters
            do {
                return try TopicName("persistent://\(parameters["tenant"] ?? "")/\(parameters["namespace"] ?? "")/\(parameters["topic"] ?? "")")
            } catch {
                throw HTTPError(.preconditionFailed, reason: error.message)
            }
        }
        router.get("/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions") { request in
            let name = try topic(request)
            return try .json(["partitions": try await context().partitions(of: name)])
        }
        router.put("/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions") { request in
            let name = try topic(request)
            guard let count = Int(String(buffer: request.body).trimmingCharacters(in: .whitespacesAndNewlines)), count > 0 else {
                throw HTTPError(.preconditionFailed, reason: "the body must be a number of partitions above 0")
            }
            do {
                try await context().createPartitionedTopic(name, partitions: count)
            } catch let error as MetadataError where error.code == .alreadyExists {
                throw HTTPError(.conflict, reason: "partitioned topic \(name) already exists")
            }
            return HTTPResponse(status: .noContent)
        }
        router.put("/admin/v2/persistent/{tenant}/{namespace}/{topic}/unload") { request in
            // Its clients are told to reconnect; its ledger is closed cleanly.
            try await context().topics.unload(try topic(request))
            return HTTPResponse(status: .noContent)
        }
        router.get("/lookup/v2/topic/persistent/{tenant}/{namespace}/{topic}") { request in
            _ = try topic(request)
            let broker = try context()
            // Pulsar's LookupData; the client insists on the TLS fields even when empty.
            return try .json([
                "brokerUrl": broker.serviceURL, "brokerUrlTls": "", "httpUrl": broker.httpURL, "httpUrlTls": "", "nativeUrl": broker.serviceURL,
            ])
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/topics") { request in
            let parameters = request.parameters
            return try .json(try await context().topics(tenant: parameters["tenant"] ?? "", namespace: parameters["namespace"] ?? ""))
        }
        Self.addNamespaceRoutes(to: &router, context)
        return router
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

extension BrokerService {
    /// `GET /admin/v2/namespaces/{tenant}`, `PUT|GET /admin/v2/namespaces/{tenant}/{namespace}`,
    /// `POST|GET …/persistence` (Pulsar's PersistencePolicies JSON) and `POST|GET
    /// …/storageCompression` (`"none"`, `"lz4"` or `"zstd"`). Policy changes apply to topics
    /// loaded afterwards.
    fileprivate static func addNamespaceRoutes(to router: inout HTTPRouter, _ context: @escaping @Sendable () throws -> BrokerContext) {
        @Sendable func namespace(_ request: HTTPRequest) throws -> (tenant: String, namespace: String) {
            let tenant = request.parameters["tenant"] ?? ""
            let namespace = request.parameters["namespace"] ?? ""
            for part in [tenant, namespace] where part.isEmpty || !part.allSatisfy({ $0.isLetter || $0.isNumber || "-_.=:".contains($0) }) {
                throw HTTPError(.preconditionFailed, reason: "'\(part)' is not a valid tenant or namespace name")
            }
            return (tenant, namespace)
        }
        @Sendable func policies(_ request: HTTPRequest) async throws -> NamespacePolicies {
            let (tenant, name) = try namespace(request)
            guard let policies = try await context().policies(tenant: tenant, namespace: name) else {
                throw HTTPError(.notFound, reason: "namespace \(tenant)/\(name) does not exist")
            }
            return policies
        }
        @Sendable func update(_ request: HTTPRequest, _ change: @escaping (inout NamespacePolicies) throws -> Void) async throws -> HTTPResponse {
            let (tenant, name) = try namespace(request)
            do {
                try await context().updatePolicies(tenant: tenant, namespace: name, change)
            } catch let error as MetadataError where error.code == .notFound {
                throw HTTPError(.notFound, reason: "namespace \(tenant)/\(name) does not exist")
            }
            return HTTPResponse(status: .noContent)
        }
        router.get("/admin/v2/namespaces/{tenant}") { request in
            let tenant = request.parameters["tenant"] ?? ""
            return try .json(try await context().namespaces(of: tenant))
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}") { request in
            let (tenant, name) = try namespace(request)
            do {
                try await context().createNamespace(tenant: tenant, namespace: name)
            } catch let error as MetadataError where error.code == .alreadyExists {
                throw HTTPError(.conflict, reason: "namespace \(tenant)/\(name) already exists")
            }
            return HTTPResponse(status: .noContent)
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}") { request in
            try .json(try await policies(request))
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/persistence") { request in
            let stored = try await policies(request).persistence
            let broker = try context()
            let persistence = stored ?? PersistencePolicies(
                ensemble: broker.ledgerConfiguration.ensembleSize, writeQuorum: broker.ledgerConfiguration.writeQuorum,
                ackQuorum: broker.ledgerConfiguration.ackQuorum
            )
            return try .json(persistence)
        }
        router.post("/admin/v2/namespaces/{tenant}/{namespace}/persistence") { request in
            guard let persistence = try? JSONDecoder().decode(PersistencePolicies.self, from: Data(request.body.readableBytesView)) else {
                throw HTTPError(.badRequest, reason: "the body is not persistence policies (bookkeeperEnsemble, bookkeeperWriteQuorum, bookkeeperAckQuorum)")
            }
            do throws(BrokerError) {
                try persistence.validate()
            } catch {
                throw HTTPError(.preconditionFailed, reason: error.message)
            }
            return try await update(request) { $0.persistence = persistence }
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/storageCompression") { request in
            let stored = try await policies(request).storageCompression
            return try .json(stored ?? context().defaultCompression.policyName)
        }
        router.post("/admin/v2/namespaces/{tenant}/{namespace}/storageCompression") { request in
            let text = String(buffer: request.body).trimmingCharacters(in: .whitespacesAndNewlines)
            let name = (try? JSONDecoder().decode(String.self, from: Data(text.utf8))) ?? text
            let compression: CompressionType
            do throws(BrokerError) {
                compression = try CompressionType(policy: name)
            } catch {
                throw HTTPError(.preconditionFailed, reason: error.message)
            }
            return try await update(request) { $0.storageCompression = compression.policyName }
        }
    }
}
