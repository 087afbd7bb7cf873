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
        /// TTL of the broker's metadata session (default 3 s): a broker that stops is
        /// replaced as the owner of its bundles this long after its last keep-alive.
        public var sessionTTL: Duration
        /// Bundles of a namespace created without a bundle count (default 4, as Pulsar).
        public var defaultBundles: Int
        /// How often the broker reports its load (default 5 s).
        public var loadReportInterval: Duration
        /// How often the leader sheds load and splits hot bundles (default 15 s; nil turns
        /// both off).
        public var loadSheddingInterval: Duration?
        /// A bundle with more topics than this is split (default 1000; nil: never).
        public var bundleSplitTopics: Int?
        /// A bundle with more messages per second in and out is split (default 30 000; nil: never).
        public var bundleSplitMessageRate: Double?
        /// Metrics per topic (default true); false sums each namespace's topics into one
        /// series, for brokers with many topics.
        public var topicLevelMetrics: Bool
        /// How often loaded topics' policies are read again and TTL and backlog quotas
        /// enforced (default 5 s).
        public var policyCheckInterval: Duration = .seconds(5)
        /// Deduplication where no policy sets it (default false).
        public var deduplicationEnabled = false
        /// Retention where no policy sets it: minutes and megabytes, -1 for no limit
        /// (default 0 and 0: consumed data goes).
        public var defaultRetentionMinutes = 0
        public var defaultRetentionMegabytes: Int64 = 0
        /// Message TTL where no policy sets it, in seconds (default 0: none).
        public var defaultMessageTTLSeconds = 0
        /// Backlog size quota where no policy sets it, in bytes (default -1: none), and its
        /// policy (default producer_request_hold).
        public var defaultBacklogQuotaBytes: Int64 = -1
        public var defaultBacklogQuotaPolicy = "producer_request_hold"
        /// Most messages a subscription holds back for their delivery time (default
        /// 1 000 000, 24 bytes each); past it, the subscription reads on only as they go.
        public var delayedDeliveryMaxIndex = 1_000_000
        /// Minutes after which deduplication forgets a producer that is gone (default 360).
        public var deduplicationProducerInactivityMinutes = 360
        /// What clients may hold on this broker (Pulsar's limits and their defaults).
        public var limits = BrokerLimits()
        /// Individually acked ranges and partly acked batches a cursor keeps
        /// (`managedLedgerMaxUnackedRangesToPersist`, default 10 000).
        public var maxUnackedRangesToPersist = 10_000

        public init(
            host: String = "127.0.0.1", port: Int = 6650, httpPort: Int = 8080, advertisedHost: String? = nil, metadataURL: String,
            clusterName: String = "standalone", ensembleSize: Int = 2, writeQuorum: Int = 2, ackQuorum: Int = 2,
            maxMessageSize: Int = 5 << 20, storageCompression: CompressionType = .lz4, maxEntriesPerLedger: Int = 50_000,
            topicIdleTimeout: Duration? = .seconds(30 * 60), sessionTTL: Duration = .seconds(3), defaultBundles: Int = 4,
            loadReportInterval: Duration = .seconds(5), loadSheddingInterval: Duration? = .seconds(15), bundleSplitTopics: Int? = 1000,
            bundleSplitMessageRate: Double? = 30_000, topicLevelMetrics: Bool = true
        ) {
            self.topicLevelMetrics = topicLevelMetrics
            self.bundleSplitTopics = bundleSplitTopics
            self.bundleSplitMessageRate = bundleSplitMessageRate
            self.sessionTTL = sessionTTL
            self.defaultBundles = defaultBundles
            self.loadReportInterval = loadReportInterval
            self.loadSheddingInterval = loadSheddingInterval
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
    /// storage clients, binary server, REST server, cluster membership, topic manager,
    /// policy rounds. The group shuts them down in reverse: stop the policy rounds, close
    /// every topic's ledger, telling its clients to
    /// reconnect (and load no topic from then on); close the metadata session, which
    /// releases the broker's bundles; stop the REST API; stop accepting and close the
    /// connections left; close the ledger clients and the metadata store.
    public let services: [any Service]
    /// `pulsar://host:port` clients are told to connect to.
    public let serviceURL: String
    private init(services: [any Service], serviceURL: String) {
        self.services = services
        self.serviceURL = serviceURL
    }

    /// Connects to the metadata store, binds the binary port and makes the broker's
    /// parts; nothing is served until the services run. The REST server binds when its
    /// service runs; the broker logs "broker serving" with both addresses once it has joined
    /// the cluster (registered in a metadata session).
    /// `metricsRegistry` is what `/metrics` serves (no `/metrics` without one).
    public static func start(
        configuration: Configuration, logger: Logger, metricsRegistry: PrometheusCollectorRegistry? = nil
    ) async throws -> BrokerService {
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
            ledgerConfiguration.maxUnackedRangesToPersist = configuration.maxUnackedRangesToPersist
            // Connections learn the broker's context once it exists.
            let shared = ContextBox()
            let binary = try await PulsarServer.bind(
                host: configuration.host, port: configuration.port, maxMessageSize: configuration.maxMessageSize, shared: shared,
                group: group
            )
            let advertised = configuration.advertisedHost ?? configuration.host
            let context = BrokerContext(
                name: "\(configuration.clusterName)-\(advertised)-\(binary.port)", clusterName: configuration.clusterName,
                serviceURL: "pulsar://\(advertised):\(binary.port)",
                maxMessageSize: configuration.maxMessageSize, metadata: metadata, clients: clients, ledgerConfiguration: ledgerConfiguration,
                defaultCompression: configuration.storageCompression, topicIdleTimeout: configuration.topicIdleTimeout,
                topicLevelMetrics: configuration.topicLevelMetrics,
                sessionTTL: configuration.sessionTTL, defaultBundles: configuration.defaultBundles, policyDefaults: configuration.policyDefaults,
                limits: configuration.limits, logger: logger
            )
            try await context.createDefaultNamespace()
            shared.context = context
            let server = HTTPServer(
                host: configuration.host, port: configuration.httpPort, router: BrokerRoutes.router(shared, registry: metricsRegistry), logger: logger
            )
            let membership = MembershipService(
                context: context,
                configuration: .init(
                    reportInterval: configuration.loadReportInterval, sheddingInterval: configuration.loadSheddingInterval,
                    splitTopics: configuration.bundleSplitTopics, splitMessageRate: configuration.bundleSplitMessageRate
                ),
                advertisedHost: advertised, cluster: configuration.clusterName, httpPort: { try await server.boundPort() }
            )
            let policies = PolicyService(context: context, interval: configuration.policyCheckInterval)
            return BrokerService(services: [storage, binary, server, membership, context.topics, policies], serviceURL: context.serviceURL)
        } catch {
            await storage.close()
            throw error
        }
    }
}

extension BrokerService.Configuration {
    /// The policy defaults the configuration sets.
    var policyDefaults: TopicPolicies.Defaults {
        var defaults = TopicPolicies.Defaults(
            deduplication: self.deduplicationEnabled,
            retention: RetentionRule(minutes: self.defaultRetentionMinutes, megabytes: self.defaultRetentionMegabytes),
            messageTTL: self.defaultMessageTTLSeconds > 0 ? .seconds(self.defaultMessageTTLSeconds) : nil,
            sizeQuota: TopicPolicies.Quota.Policy(rawValue: self.defaultBacklogQuotaPolicy).flatMap { policy in
                self.defaultBacklogQuotaBytes >= 0 ? TopicPolicies.Quota(limit: self.defaultBacklogQuotaBytes, policy: policy) : nil
            }
        )
        defaults.delayedDeliveryCapacity = self.delayedDeliveryMaxIndex
        defaults.deduplicationInactivity = .seconds(60 * self.deduplicationProducerInactivityMinutes)
        defaults.limits = TopicPolicies.Limits(
            producers: self.limits.maxProducersPerTopic, consumers: self.limits.maxConsumersPerTopic,
            consumersPerSubscription: self.limits.maxConsumersPerSubscription, subscriptions: self.limits.maxSubscriptionsPerTopic,
            unackedPerConsumer: self.limits.maxUnackedMessagesPerConsumer, unackedPerSubscription: self.limits.maxUnackedMessagesPerSubscription
        )
        return defaults
    }
}
