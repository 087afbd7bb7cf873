import ArgumentParser
import Glibc
import Broker
import Codec
import Logging
import MagnetarVersion
import Metrics
import Prometheus
import ServiceLifecycle
import Settings
import UnixSignals

/// The serving node: speaks the Pulsar protocol and writes topics to bookies.
@main
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Magnetar broker: serves Pulsar clients and stores topics on bookies.",
        discussion: """
            Every setting can also come from the environment (MAGNETAR_BROKER_ and the name in \
            capitals with '_' for '-') or from a --config file of 'name = value' lines (see \
            broker/broker.conf). Flags win over the environment, which wins over the file.
            """,
        version: MagnetarVersion.current
    )

    @Option(help: "A file of 'name = value' settings.") var config: String?
    @Option(help: "memory:, sqlite:<path> or etcd://host:port[,host:port…]") var metadataUrl: String?
    @Option(help: "Address of the Pulsar protocol, HOST:PORT (default 127.0.0.1:6650; port 0 picks one).") var listen: String?
    @Option(help: "Port of the REST API (default 8080; 0 picks one).") var httpPort: String?
    @Option(help: "The host clients are told to connect to (default: the listen host).") var advertisedAddress: String?
    @Option(help: "Cluster name (default standalone).") var clusterName: String?
    @Option(help: "Bookies per new ledger (default 2).") var ensembleSize: String?
    @Option(help: "Copies of each entry (default 2).") var writeQuorum: String?
    @Option(help: "Copies acknowledged before a send is receipted (default 2).") var ackQuorum: String?
    @Option(help: "How bookies store batches a namespace sets no policy for: none, lz4 or zstd (default lz4).")
    var storageCompression: String?
    @Option(help: "Entries after which a topic's ledger is closed and the next one started (default 50000).")
    var maxEntriesPerLedger: String?
    @Option(help: "Seconds a topic with no producer or consumer stays loaded (default 1800; 0 keeps it).")
    var topicIdleTimeoutSeconds: String?
    @Option(help: "Seconds the broker's metadata session outlives its last keep-alive; its bundles move this long after it stops (default 3).")
    var sessionTtlSeconds: String?
    @Option(help: "Bundles of a namespace created without a bundle count (default 4).") var defaultNamespaceBundles: String?
    @Option(help: "Seconds between load reports (default 5).") var loadReportIntervalSeconds: String?
    @Option(help: "Seconds between the leader's load shedding and bundle split rounds (default 15; 0 turns both off).")
    var loadSheddingIntervalSeconds: String?
    @Option(help: "A bundle with more topics than this is split (default 1000; 0: never).") var bundleSplitMaxTopics: String?
    @Option(help: "A bundle with more messages per second in and out is split (default 30000; 0: never).")
    var bundleSplitMaxMsgRate: String?
    @Option(help: "Metrics per topic, true or false; false sums each namespace's topics (default true).")
    var exposeTopicLevelMetrics: String?
    @Option(help: "Seconds between reading loaded topics' policies again and enforcing TTL and backlog quotas (default 5).")
    var policyCheckIntervalSeconds: String?
    @Option(help: "Deduplicate producers' sequence ids where no policy says, true or false (default false).")
    var deduplicationEnabled: String?
    @Option(help: "Minutes consumed data is kept where no policy says (default 0; -1: no limit).")
    var defaultRetentionTimeMinutes: String?
    @Option(help: "Megabytes of consumed data kept where no policy says (default 0; -1: no limit).")
    var defaultRetentionSizeMb: String?
    @Option(help: "Seconds after which unacknowledged messages expire where no policy says (default 0: never).")
    var ttlDurationDefaultSeconds: String?
    @Option(help: "Bytes of backlog allowed where no policy says (default -1: no limit).")
    var backlogQuotaDefaultLimitBytes: String?
    @Option(help: "What happens past that backlog: producer_request_hold, producer_exception or consumer_backlog_eviction (default producer_request_hold).")
    var backlogQuotaDefaultPolicy: String?
    @Option(help: "Most messages a subscription holds back for their delivery time (default 1000000).")
    var delayedDeliveryMaxIndex: String?
    @Option(help: "Minutes after which deduplication forgets a producer that is gone (default 360).")
    var deduplicationProducerInactivityTimeoutMinutes: String?

    @Option(help: "Binary-protocol connections at once (Pulsar's brokerMaxConnections; default 0: no limit).")
    var brokerMaxConnections: String?
    @Option(help: "Connections at once from one address (brokerMaxConnectionsPerIp; default 0: no limit).")
    var brokerMaxConnectionsPerIp: String?
    @Option(help: "Producers per topic (maxProducersPerTopic; default 0: no limit).") var maxProducersPerTopic: String?
    @Option(help: "Consumers per topic (maxConsumersPerTopic; default 0: no limit).") var maxConsumersPerTopic: String?
    @Option(help: "Consumers per subscription (maxConsumersPerSubscription; default 0: no limit).") var maxConsumersPerSubscription: String?
    @Option(help: "Subscriptions per topic (maxSubscriptionsPerTopic; default 0: no limit).") var maxSubscriptionsPerTopic: String?
    @Option(help: "Topics per namespace (maxTopicsPerNamespace; default 0: no limit).") var maxTopicsPerNamespace: String?
    @Option(help: "SENDs awaiting their receipt per connection before it is read no more until some are (default 1000).")
    var maxPendingPublishRequestsPerConnection: String?
    @Option(help: "Unacknowledged messages a consumer holds before it is sent no more until half are acked (default 50000; 0: no limit).")
    var maxUnackedMessagesPerConsumer: String?
    @Option(help: "Likewise for a subscription (default 200000; 0: no limit).") var maxUnackedMessagesPerSubscription: String?
    @Option(help: "Individually acknowledged ranges a cursor keeps; acks past them are redelivered after a reload (default 10000).")
    var managedLedgerMaxUnackedRangesToPersist: String?
    @Option(help: "Megabytes of SENDs awaiting their receipt over the broker before connections stop reading (default 256).")
    var maxMessagePublishBufferSizeInMb: String?
    @Option(help: "Partitions per partitioned topic (maxNumPartitionsPerPartitionedTopic; default 0: up to 10000).")
    var maxNumPartitionsPerPartitionedTopic: String?
    @Option(help: "Seconds of silence after which a client is PINGed, and then closed if it stays silent as long (default 30).")
    var keepAliveIntervalSeconds: String?

    static let settingNames: Set<String> = [
        "metadata-url", "listen", "http-port", "advertised-address", "cluster-name", "ensemble-size", "write-quorum", "ack-quorum",
        "storage-compression", "max-entries-per-ledger", "topic-idle-timeout-seconds", "session-ttl-seconds", "default-namespace-bundles",
        "load-report-interval-seconds", "load-shedding-interval-seconds", "bundle-split-max-topics", "bundle-split-max-msg-rate",
        "expose-topic-level-metrics", "policy-check-interval-seconds", "deduplication-enabled", "default-retention-time-minutes",
        "default-retention-size-mb", "ttl-duration-default-seconds", "backlog-quota-default-limit-bytes", "backlog-quota-default-policy",
        "delayed-delivery-max-index", "deduplication-producer-inactivity-timeout-minutes", "broker-max-connections",
        "broker-max-connections-per-ip", "max-producers-per-topic", "max-consumers-per-topic", "max-consumers-per-subscription",
        "max-subscriptions-per-topic", "max-topics-per-namespace", "max-pending-publish-requests-per-connection",
        "max-num-partitions-per-partitioned-topic", "keep-alive-interval-seconds", "max-message-publish-buffer-size-in-mb",
        "max-unacked-messages-per-consumer", "max-unacked-messages-per-subscription", "managed-ledger-max-unacked-ranges-to-persist",
    ]

    func run() async throws {
        // A broker keeps no data: one whose supervisor died is ended outright.
        Supervision.followSupervisor(signal: SIGKILL)
        var configuration: BrokerService.Configuration
        do {
            let settings = try Settings(file: self.config, environmentPrefix: "MAGNETAR_BROKER_", known: Self.settingNames)
            let listen = settings.string("listen", flag: self.listen) ?? "127.0.0.1:6650"
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65_535).contains(port) else {
                throw ValidationError("listen must be HOST:PORT, got '\(listen)'")
            }
            let portNumber: (String) -> Int? = { Int($0).flatMap { (0...65_535).contains($0) ? $0 : nil } }
            let count: (String) -> Int? = { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
            let idleSeconds = try settings.value("topic-idle-timeout-seconds", flag: self.topicIdleTimeoutSeconds, default: 1800.0) {
                Double($0).flatMap { $0 >= 0 ? $0 : nil }
            }
            let seconds: (String) -> Double? = { Double($0).flatMap { $0 >= 0 && $0 <= 86_400 ? $0 : nil } }
            let duration: (Double) -> Duration = { .milliseconds(Int64($0 * 1000)) }
            let ttl = try settings.value("session-ttl-seconds", flag: self.sessionTtlSeconds, default: 3.0) { seconds($0).flatMap { $0 >= 1 ? $0 : nil } }
            let reportEvery = try settings.value("load-report-interval-seconds", flag: self.loadReportIntervalSeconds, default: 5.0) {
                seconds($0).flatMap { $0 >= 0.1 ? $0 : nil }
            }
            let shedEvery = try settings.value("load-shedding-interval-seconds", flag: self.loadSheddingIntervalSeconds, default: 15.0, seconds)
            configuration = .init(
                host: String(listen[..<colon]),
                port: port,
                httpPort: try settings.value("http-port", flag: self.httpPort, default: 8080, portNumber),
                advertisedHost: settings.string("advertised-address", flag: self.advertisedAddress),
                metadataURL: try settings.required("metadata-url", flag: self.metadataUrl),
                clusterName: settings.string("cluster-name", flag: self.clusterName) ?? "standalone",
                ensembleSize: try settings.value("ensemble-size", flag: self.ensembleSize, default: 2, count),
                writeQuorum: try settings.value("write-quorum", flag: self.writeQuorum, default: 2, count),
                ackQuorum: try settings.value("ack-quorum", flag: self.ackQuorum, default: 2, count),
                storageCompression: try settings.value("storage-compression", flag: self.storageCompression, default: .lz4) { text in
                    try? CompressionType(policy: text)
                },
                maxEntriesPerLedger: try settings.value("max-entries-per-ledger", flag: self.maxEntriesPerLedger, default: 50_000, count),
                topicIdleTimeout: idleSeconds == 0 ? nil : .milliseconds(Int64(idleSeconds * 1000)),
                sessionTTL: duration(ttl),
                defaultBundles: try settings.value("default-namespace-bundles", flag: self.defaultNamespaceBundles, default: 4) {
                    Int($0).flatMap { (1...1024).contains($0) ? $0 : nil }
                },
                loadReportInterval: duration(reportEvery),
                loadSheddingInterval: shedEvery == 0 ? nil : duration(shedEvery),
                bundleSplitTopics: try settings.value("bundle-split-max-topics", flag: self.bundleSplitMaxTopics, default: 1000) {
                    Int($0).flatMap { $0 >= 0 ? $0 : nil }
                }.nonZero,
                bundleSplitMessageRate: try settings.value("bundle-split-max-msg-rate", flag: self.bundleSplitMaxMsgRate, default: 30_000.0) {
                    Double($0).flatMap { $0 >= 0 ? $0 : nil }
                }.nonZero,
                topicLevelMetrics: try settings.value("expose-topic-level-metrics", flag: self.exposeTopicLevelMetrics, default: true) { Bool($0) }
            )
            let policyEvery = try settings.value("policy-check-interval-seconds", flag: self.policyCheckIntervalSeconds, default: 5.0) {
                seconds($0).flatMap { $0 >= 0.1 ? $0 : nil }
            }
            configuration.policyCheckInterval = duration(policyEvery)
            configuration.deduplicationEnabled = try settings.value("deduplication-enabled", flag: self.deduplicationEnabled, default: false) { Bool($0) }
            let limit: (String) -> Int? = { Int($0).flatMap { $0 >= -1 ? $0 : nil } }
            configuration.defaultRetentionMinutes = try settings.value(
                "default-retention-time-minutes", flag: self.defaultRetentionTimeMinutes, default: 0, limit
            )
            configuration.defaultRetentionMegabytes = Int64(
                try settings.value("default-retention-size-mb", flag: self.defaultRetentionSizeMb, default: 0, limit)
            )
            configuration.defaultMessageTTLSeconds = try settings.value(
                "ttl-duration-default-seconds", flag: self.ttlDurationDefaultSeconds, default: 0
            ) { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
            configuration.defaultBacklogQuotaBytes = Int64(
                try settings.value("backlog-quota-default-limit-bytes", flag: self.backlogQuotaDefaultLimitBytes, default: -1, limit)
            )
            configuration.defaultBacklogQuotaPolicy = try settings.value(
                "backlog-quota-default-policy", flag: self.backlogQuotaDefaultPolicy, default: "producer_request_hold"
            ) { ["producer_request_hold", "producer_exception", "consumer_backlog_eviction"].contains($0) ? $0 : nil }
            configuration.delayedDeliveryMaxIndex = try settings.value(
                "delayed-delivery-max-index", flag: self.delayedDeliveryMaxIndex, default: 1_000_000, count
            )
            configuration.deduplicationProducerInactivityMinutes = try settings.value(
                "deduplication-producer-inactivity-timeout-minutes", flag: self.deduplicationProducerInactivityTimeoutMinutes, default: 360, count
            )
            configuration.limits = try self.limits(settings)
            configuration.maxUnackedRangesToPersist = try settings.value(
                "managed-ledger-max-unacked-ranges-to-persist", flag: self.managedLedgerMaxUnackedRangesToPersist, default: 10_000
            ) { Int($0).flatMap { (1...10_000_000).contains($0) ? $0 : nil } }
        } catch let problem as Settings.Problem {
            throw ValidationError(problem.description)
        }
        guard configuration.ensembleSize >= configuration.writeQuorum, configuration.writeQuorum >= configuration.ackQuorum else {
            throw ValidationError("need ensemble-size ≥ write-quorum ≥ ack-quorum")
        }
        var logger = Logger(label: "broker")
        logger.logLevel = .info
        // Every metric of the process (the HTTP server's among them) lands in one registry
        // that /metrics serves.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let broker = try await BrokerService.start(configuration: configuration, logger: logger, metricsRegistry: registry)
        let group = ServiceGroup(services: broker.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

extension BrokerCommand {
    /// The limits the settings give, each checked: a count of 0 or more (0: no limit), the
    /// keep-alive interval from 1 second to a day.
    fileprivate func limits(_ settings: Settings) throws(Settings.Problem) -> BrokerLimits {
        let count: (String) -> Int? = { Int($0).flatMap { (0...Int(Int32.max)).contains($0) ? $0 : nil } }
        var limits = BrokerLimits()
        limits.maxConnections = try settings.value("broker-max-connections", flag: self.brokerMaxConnections, default: 0, count)
        limits.maxConnectionsPerIP = try settings.value("broker-max-connections-per-ip", flag: self.brokerMaxConnectionsPerIp, default: 0, count)
        limits.maxProducersPerTopic = try settings.value("max-producers-per-topic", flag: self.maxProducersPerTopic, default: 0, count)
        limits.maxConsumersPerTopic = try settings.value("max-consumers-per-topic", flag: self.maxConsumersPerTopic, default: 0, count)
        limits.maxConsumersPerSubscription = try settings.value(
            "max-consumers-per-subscription", flag: self.maxConsumersPerSubscription, default: 0, count
        )
        limits.maxSubscriptionsPerTopic = try settings.value("max-subscriptions-per-topic", flag: self.maxSubscriptionsPerTopic, default: 0, count)
        limits.maxTopicsPerNamespace = try settings.value("max-topics-per-namespace", flag: self.maxTopicsPerNamespace, default: 0, count)
        limits.maxPendingPublishRequestsPerConnection = try settings.value(
            "max-pending-publish-requests-per-connection", flag: self.maxPendingPublishRequestsPerConnection, default: 1000
        ) { Int($0).flatMap { (1...1_000_000).contains($0) ? $0 : nil } }
        limits.maxUnackedMessagesPerConsumer = try settings.value(
            "max-unacked-messages-per-consumer", flag: self.maxUnackedMessagesPerConsumer, default: 50_000, count
        )
        limits.maxUnackedMessagesPerSubscription = try settings.value(
            "max-unacked-messages-per-subscription", flag: self.maxUnackedMessagesPerSubscription, default: 200_000, count
        )
        limits.maxMessagePublishBufferBytes = try settings.value(
            "max-message-publish-buffer-size-in-mb", flag: self.maxMessagePublishBufferSizeInMb, default: 256
        ) { Int($0).flatMap { (1...(1 << 20)).contains($0) ? $0 : nil } } << 20
        limits.maxNumPartitionsPerPartitionedTopic = try settings.value(
            "max-num-partitions-per-partitioned-topic", flag: self.maxNumPartitionsPerPartitionedTopic, default: 0, count
        )
        let keepAlive = try settings.value("keep-alive-interval-seconds", flag: self.keepAliveIntervalSeconds, default: 30) {
            Int($0).flatMap { (1...86_400).contains($0) ? $0 : nil }
        }
        limits.keepAliveInterval = .seconds(keepAlive)
        return limits
    }
}

extension Numeric {
    /// Nil for zero ("off" in the settings).
    fileprivate var nonZero: Self? { self == .zero ? nil : self }
}
