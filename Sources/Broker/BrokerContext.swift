import Codec
import Foundation
import Ledger
import Logging
import ManagedLedger
import Metadata
import PulsarWire
import Synchronization

/// What every connection of a broker shares: its identity, the metadata store, the ledger
/// clients and the topics it has loaded.
final class BrokerContext: Sendable {
    let name: String
    let clusterName: String
    let serviceURL: String
    let maxMessageSize: Int
    let metadata: any MetadataStore
    /// One ledger client per event loop. A topic stays on the loop of the client its name
    /// hashes to, with its managed ledger, ledger writer and bookie connections.
    let clients: [LedgerClient]
    /// Ledger settings of every topic; persistence comes from its namespace's policy when set.
    let ledgerConfiguration: ManagedLedgerConfiguration
    /// Storage compression of topics whose namespace sets none.
    let defaultCompression: CompressionType
    let logger: Logger
    /// The topics loaded here.
    let topics: TopicManager
    /// The non-persistent topics served here.
    let volatileTopics = NonPersistentTopics()
    /// The broker's session, the bundles it owns, the leader.
    let membership: BrokerMembership
    /// Whether metrics go per topic, or per namespace.
    let topicLevelMetrics: Bool
    /// What topics run under where neither they nor their namespace set a policy.
    let policyDefaults: TopicPolicies.Defaults
    /// What clients may hold on this broker.
    let limits: BrokerLimits
    /// The bytes of SENDs not receipted yet, over every connection.
    let publishBuffer: PublishBuffer
    /// The binary-protocol connections, counted against their limits.
    let connections: ConnectionLimiter
    /// Clients connected over the binary protocol now.
    let openConnections = Atomic<Int>(0)

    init(
        name: String, clusterName: String = "standalone", serviceURL: String, maxMessageSize: Int, metadata: any MetadataStore, clients: [LedgerClient],
        ledgerConfiguration: ManagedLedgerConfiguration, defaultCompression: CompressionType, topicIdleTimeout: Duration? = nil, topicLevelMetrics: Bool = true,
        sessionTTL: Duration = .seconds(3), defaultBundles: Int = 4, policyDefaults: TopicPolicies.Defaults = .init(),
        limits: BrokerLimits = BrokerLimits(), logger: Logger
    ) {
        self.policyDefaults = policyDefaults
        self.limits = limits
        self.publishBuffer = PublishBuffer(limit: limits.maxMessagePublishBufferBytes)
        self.connections = ConnectionLimiter(maxConnections: limits.maxConnections, maxPerAddress: limits.maxConnectionsPerIP)
        self.name = name
        self.clusterName = clusterName
        self.serviceURL = serviceURL
        self.maxMessageSize = maxMessageSize
        self.metadata = metadata
        precondition(!clients.isEmpty, "a broker needs a ledger client")
        self.clients = clients
        self.ledgerConfiguration = ledgerConfiguration
        self.defaultCompression = defaultCompression
        self.topicLevelMetrics = topicLevelMetrics
        self.logger = logger
        let membership = BrokerMembership(session: BrokerSession(metadata: metadata, ttl: sessionTTL), defaultBundles: defaultBundles)
        self.membership = membership
        let weak = WeakContext()
        self.topics = TopicManager(idleTimeout: topicIdleTimeout, logger: logger) { name, onClosed in
            guard let context = weak.context else { throw BrokerError(.serviceNotReady, "the broker is stopping") }
            // Only the owner of a topic's bundle loads it, and serves it while it owns it.
            try await context.ensureServed(name)
            let hash = NamespaceBundles.hash(name.description)
            return try await Self.loadTopic(
                name, metadata: metadata, client: Self.client(for: name, among: clients), configuration: ledgerConfiguration,
                defaultCompression: defaultCompression, policyDefaults: policyDefaults, maxTopicsPerNamespace: limits.maxTopicsPerNamespace,
                logger: logger,
                mayServe: { membership.serves(name, hash: hash) }, ownershipLapsed: { !membership.session.isValid() }, onClosed: onClosed
            )
        }
        weak.context = self
    }

    /// The topic, loaded on first use (see ``TopicManager``).
    func topic(_ name: TopicName) async throws -> Topic {
        guard name.persistent else { throw BrokerError(.notAllowed, "\(name) is not persistent") }
        return try await self.topics.topic(name)
    }

    /// Opens a topic's managed ledger with its namespace's persistence and compression
    /// policies (the broker's where it sets none), and puts its policies in force.
    static func loadTopic(
        _ name: TopicName, metadata: any MetadataStore, client: LedgerClient, configuration: ManagedLedgerConfiguration,
        defaultCompression: CompressionType, policyDefaults: TopicPolicies.Defaults = .init(), maxTopicsPerNamespace: Int = 0,
        logger: Logger, mayServe: @escaping @Sendable () -> Bool = { true }, ownershipLapsed: @escaping @Sendable () -> Bool = { true },
        onClosed: @escaping @Sendable (Topic) -> Void
    ) async throws -> Topic {
        let key = Self.policiesKey(tenant: name.tenant, namespace: name.namespace)
        let policies = try await metadata.get(key).map { stored throws(BrokerError) in try NamespacePolicies.decoded(stored.value, key: key) }
            ?? NamespacePolicies()
        if policies.deleted == true { throw BrokerError(.notAllowed, "namespace \(name.tenant)/\(name.namespace) is being deleted") }
        var configuration = configuration
        if let persistence = policies.persistence {
            configuration.ensembleSize = persistence.bookkeeperEnsemble
            configuration.writeQuorum = persistence.bookkeeperWriteQuorum
            configuration.ackQuorum = persistence.bookkeeperAckQuorum
        }
        let compression = try policies.storageCompression.map { text throws(BrokerError) in try CompressionType(policy: text) }
        let own = try await Self.topicPolicies(name, metadata: metadata)
        try await Self.checkRoom(for: name, metadata: metadata, maxTopicsPerNamespace: maxTopicsPerNamespace)
        let ledger = try await ManagedLedger.open(
            name: name.ledgerName, client: client, metadata: metadata, configuration: configuration, logger: logger
        )
        let topic = Topic(
            name: name, ledger: ledger, compression: compression ?? defaultCompression, logger: logger, mayServe: mayServe, ownershipLapsed: ownershipLapsed,
            delayedDeliveryCapacity: policyDefaults.delayedDeliveryCapacity, onClosed: onClosed
        )
        do {
            try await topic.apply(TopicPolicies(topic: own, namespace: policies, defaults: policyDefaults), loading: true)
        } catch {
            await topic.closeAndWait(.failed(error))
            throw error
        }
        return topic
    }

    /// Refuses (`notAllowed`) to create a topic in a namespace that has
    /// `maxTopicsPerNamespace` topics already (0: no limit); a topic that exists loads.
    static func checkRoom(for name: TopicName, metadata: any MetadataStore, maxTopicsPerNamespace limit: Int) async throws {
        guard limit > 0, try await metadata.get(ClusterLayout.managedLedger(name.ledgerName)) == nil else { return }
        // The partitions of a partitioned topic count as that one topic.
        if let base = name.partitionedTopic, try await metadata.get(Self.partitionsKey(base)) != nil { return }
        try await Self.checkTopicCount(tenant: name.tenant, namespace: name.namespace, metadata: metadata, limit: limit)
    }

    /// Refuses (`notAllowed`) when a namespace has `limit` topics already (0: no limit), a
    /// partitioned topic counting once.
    static func checkTopicCount(tenant: String, namespace: String, metadata: any MetadataStore, limit: Int) async throws {
        guard limit > 0 else { return }
        let topics = try await metadata.children(of: ClusterLayout.managedLedgers(tenant: tenant, namespace: namespace))
        let partitioned = try await metadata.children(of: ClusterLayout.partitionedTopics(tenant: tenant, namespace: namespace))
        let standalone = topics.filter { local in !partitioned.contains { local.hasPrefix("\($0)-partition-") } }
        if standalone.count + partitioned.count >= limit {
            throw BrokerError(.notAllowed, "namespace \(tenant)/\(namespace) has reached its limit of \(limit) topics")
        }
    }

    static func topicPoliciesKey(_ name: TopicName) -> String {
        ClusterLayout.topicPolicies(tenant: name.tenant, namespace: name.namespace, topic: name.local)
    }

    /// A topic's own policies, or nil when it sets none.
    static func topicPolicies(_ name: TopicName, metadata: any MetadataStore) async throws -> NamespacePolicies? {
        let key = Self.topicPoliciesKey(name)
        return try await metadata.get(key).map { stored throws(BrokerError) in try NamespacePolicies.decoded(stored.value, key: key) }
    }

    /// The policies `name` runs under now: its own, its namespace's, the broker's.
    func effectivePolicies(_ name: TopicName) async throws -> TopicPolicies {
        let namespace = try await self.policies(tenant: name.tenant, namespace: name.namespace) ?? NamespacePolicies()
        return TopicPolicies(topic: try await Self.topicPolicies(name, metadata: self.metadata), namespace: namespace, defaults: self.policyDefaults)
    }

    /// The ledger client, and so the event loop, of a topic: by a hash of its name that
    /// is the same in every process.
    static func client(for name: TopicName, among clients: [LedgerClient]) -> LedgerClient {
        clients[Int(stableHash(name.description) % UInt32(clients.count))]
    }

    // MARK: Partitioned topics and namespaces

    static func partitionsKey(_ name: TopicName) -> String {
        ClusterLayout.partitionedTopic(tenant: name.tenant, namespace: name.namespace, domain: name.domain, topic: name.local)
    }

    /// The number of partitions (0 for a topic that is not partitioned). A stored count
    /// outside 0...``BrokerLimits/partitionCeiling`` (written by hand, or before counts
    /// were checked) is a metadata error, not a count to loop over.
    func partitions(of name: TopicName) async throws -> Int {
        guard let stored = try await self.metadata.get(Self.partitionsKey(name)) else { return 0 }
        struct Stored: Decodable { var partitions: Int? }
        let decoded = try? JSONDecoder().decode(Stored.self, from: Data(stored.value))
        guard let decoded, (0...BrokerLimits.partitionCeiling).contains(decoded.partitions ?? 0) else {
            throw BrokerError(.metadata, "the stored partition count of \(name) is not a number from 0 to \(BrokerLimits.partitionCeiling)")
        }
        return decoded.partitions ?? 0
    }

    /// Creates partitioned-topic metadata; throws `alreadyExists` when it exists, and
    /// `notAllowed` for a count outside the limits.
    func createPartitionedTopic(_ name: TopicName, partitions: Int) async throws {
        if let refusal = self.limits.partitionRefusal(partitions) { throw BrokerError(.notAllowed, refusal) }
        try await Self.checkTopicCount(tenant: name.tenant, namespace: name.namespace, metadata: self.metadata, limit: self.limits.maxTopicsPerNamespace)
        _ = try await self.metadata.put(Self.partitionsKey(name), value: Array("{\"partitions\":\(partitions)}".utf8), expecting: .absent)
    }

    /// The topics of a namespace that have data or partitions, as full names.
    func topics(tenant: String, namespace: String) async throws -> [String] {
        var names: Set<String> = []
        for local in try await self.metadata.children(of: ClusterLayout.managedLedgers(tenant: tenant, namespace: namespace)) {
            names.insert("persistent://\(tenant)/\(namespace)/\(local)")
        }
        for local in try await self.metadata.children(of: ClusterLayout.partitionedTopics(tenant: tenant, namespace: namespace)) {
            names.insert("persistent://\(tenant)/\(namespace)/\(local)")
        }
        return names.sorted()
    }

    // MARK: Namespaces and their policies

    static func policiesKey(tenant: String, namespace: String) -> String { ClusterLayout.namespacePolicies(tenant: tenant, namespace: namespace) }

    /// The policies of a namespace, or nil when the namespace does not exist.
    func policies(tenant: String, namespace: String) async throws -> NamespacePolicies? {
        let key = Self.policiesKey(tenant: tenant, namespace: namespace)
        guard let stored = try await self.metadata.get(key) else { return nil }
        return try NamespacePolicies.decoded(stored.value, key: key)
    }

    /// Creates a namespace with the given policies (and the default bundle layout when
    /// they name none); throws `alreadyExists` when it exists.
    func createNamespace(tenant: String, namespace: String, policies: NamespacePolicies = NamespacePolicies()) async throws {
        var policies = policies
        if policies.bundles == nil { policies.bundles = NamespaceBundles(count: self.membership.defaultBundles) }
        _ = try await self.metadata.put(Self.policiesKey(tenant: tenant, namespace: namespace), value: try policies.encoded(), expecting: .absent)
    }

    /// The namespaces of a tenant, as `tenant/namespace`.
    func namespaces(of tenant: String) async throws -> [String] {
        try await self.metadata.children(of: ClusterLayout.namespaces(of: tenant)).sorted().map { "\(tenant)/\($0)" }
    }

    /// Changes a namespace's policies by compare-and-set, retrying on a concurrent change.
    /// The namespace's topics loaded here run under them at once; those on other brokers
    /// within a policy round; persistence and compression apply to topics loaded from then on. Throws `notFound` when the namespace does not
    /// exist.
    func updatePolicies(tenant: String, namespace: String, _ change: (inout NamespacePolicies) throws -> Void) async throws {
        let key = Self.policiesKey(tenant: tenant, namespace: namespace)
        while true {
            guard let stored = try await self.metadata.get(key) else {
                throw MetadataError(.notFound, "namespace \(tenant)/\(namespace) does not exist")
            }
            var policies = try NamespacePolicies.decoded(stored.value, key: key)
            try change(&policies)
            do {
                _ = try await self.metadata.put(key, value: try policies.encoded(), expecting: .version(stored.version))
                break
            } catch let error as MetadataError where error.code == .badVersion {
                continue
            }
        }
        await self.reapplyPolicies { $0.tenant == tenant && $0.namespace == namespace }
    }

    /// Makes sure tenant `public` and namespace `public/default` exist, the namespace with
    /// the broker's persistence and compression as its policies.
    func createDefaultNamespace() async throws {
        do {
            _ = try await self.metadata.put(
                ClusterLayout.tenant("public"), value: try Self.encode(TenantInfo(allowedClusters: [self.clusterName])), expecting: .absent
            )
        } catch let error as MetadataError where error.code == .alreadyExists {}
        guard try await self.policies(tenant: "public", namespace: "default") == nil else { return }
        let policies = NamespacePolicies(
            persistence: PersistencePolicies(
                ensemble: self.ledgerConfiguration.ensembleSize, writeQuorum: self.ledgerConfiguration.writeQuorum,
                ackQuorum: self.ledgerConfiguration.ackQuorum
            ),
            storageCompression: self.defaultCompression.policyName
        )
        do {
            try await self.createNamespace(tenant: "public", namespace: "default", policies: policies)
        } catch let error as MetadataError where error.code == .alreadyExists {}
    }
}
