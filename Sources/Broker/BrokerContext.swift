import Codec
import Foundation
import Ledger
import Logging
import ManagedLedger
import Metadata
import Synchronization

/// What every connection of a broker shares: its identity, the metadata store, the ledger
/// clients and the topics it has loaded.
final class BrokerContext: Sendable {
    let name: String
    let serviceURL: String
    let httpURL: String
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
    private let topics = Mutex<[TopicName: Task<Topic, any Error>]>([:])

    init(
        name: String, serviceURL: String, httpURL: String, maxMessageSize: Int, metadata: any MetadataStore, clients: [LedgerClient],
        ledgerConfiguration: ManagedLedgerConfiguration, defaultCompression: CompressionType, logger: Logger
    ) {
        self.name = name
        self.serviceURL = serviceURL
        self.httpURL = httpURL
        self.maxMessageSize = maxMessageSize
        self.metadata = metadata
        precondition(!clients.isEmpty, "a broker needs a ledger client")
        self.clients = clients
        self.ledgerConfiguration = ledgerConfiguration
        self.defaultCompression = defaultCompression
        self.logger = logger
    }

    /// The topic, loaded on first use (which fences a previous owner's ledger). A topic
    /// closed after a storage failure is loaded again, once its managed ledger is closed.
    func topic(_ name: TopicName) async throws -> Topic {
        while true {
            let task = self.loading(name)
            let topic: Topic
            do {
                topic = try await task.value
            } catch {
                self.topics.withLock { topics in if topics[name] == task { topics[name] = nil } }
                throw BrokerError(error, "cannot load \(name)")
            }
            guard topic.isClosed else { return topic }
            await topic.waitUntilClosed()
            self.topics.withLock { topics in if topics[name] == task { topics[name] = nil } }
        }
    }

    /// The task loading (or that loaded) a topic, started when there is none.
    private func loading(_ name: TopicName) -> Task<Topic, any Error> {
        self.topics.withLock { topics in
            if let loading = topics[name] { return loading }
            let loading = Task {
                let policies = try await self.policies(tenant: name.tenant, namespace: name.namespace) ?? NamespacePolicies()
                var configuration = self.ledgerConfiguration
                if let persistence = policies.persistence {
                    configuration.ensembleSize = persistence.bookkeeperEnsemble
                    configuration.writeQuorum = persistence.bookkeeperWriteQuorum
                    configuration.ackQuorum = persistence.bookkeeperAckQuorum
                }
                let compression = try policies.storageCompression.map { text throws(BrokerError) in try CompressionType(policy: text) }
                let ledger = try await ManagedLedger.open(
                    name: name.ledgerName, client: self.client(for: name), metadata: self.metadata, configuration: configuration,
                    logger: self.logger
                )
                return Topic(name: name, ledger: ledger, compression: compression ?? self.defaultCompression, logger: self.logger)
            }
            topics[name] = loading
            return loading
        }
    }

    /// The ledger client, and so the event loop, of a topic: by a hash of its name that
    /// is the same in every process.
    func client(for name: TopicName) -> LedgerClient {
        self.clients[Int(stableHash(name.description) % UInt32(self.clients.count))]
    }

    /// Closes every loaded topic's ledger cleanly, so the next owner needs no recovery.
    func closeTopics() async {
        let loaded = self.topics.withLock { topics in
            defer { topics.removeAll() }
            return Array(topics.values)
        }
        for task in loaded {
            if let topic = try? await task.value { try? await topic.ledger.close() }
        }
    }

    // MARK: Partitioned topics and namespaces

    static func partitionsKey(_ name: TopicName) -> String {
        "/admin/partitioned-topics/\(name.tenant)/\(name.namespace)/persistent/\(name.local)"
    }

    /// The number of partitions (0 for a topic that is not partitioned).
    func partitions(of name: TopicName) async throws -> Int {
        guard let stored = try await self.metadata.get(Self.partitionsKey(name)) else { return 0 }
        let object = try JSONSerialization.jsonObject(with: Data(stored.value)) as? [String: Any]
        return object?["partitions"] as? Int ?? 0
    }

    /// Creates partitioned-topic metadata; throws `alreadyExists` when it exists.
    func createPartitionedTopic(_ name: TopicName, partitions: Int) async throws {
        _ = try await self.metadata.put(Self.partitionsKey(name), value: Array("{\"partitions\":\(partitions)}".utf8), expecting: .absent)
    }

    /// The topics of a namespace that have data or partitions, as full names.
    func topics(tenant: String, namespace: String) async throws -> [String] {
        var names: Set<String> = []
        for local in try await self.metadata.children(of: "/managed-ledgers/\(tenant)/\(namespace)/persistent") {
            names.insert("persistent://\(tenant)/\(namespace)/\(local)")
        }
        for local in try await self.metadata.children(of: "/admin/partitioned-topics/\(tenant)/\(namespace)/persistent") {
            names.insert("persistent://\(tenant)/\(namespace)/\(local)")
        }
        return names.sorted()
    }

    // MARK: Namespaces and their policies

    static func policiesKey(tenant: String, namespace: String) -> String { "/admin/policies/\(tenant)/\(namespace)" }

    /// The policies of a namespace, or nil when the namespace does not exist.
    func policies(tenant: String, namespace: String) async throws -> NamespacePolicies? {
        let key = Self.policiesKey(tenant: tenant, namespace: namespace)
        guard let stored = try await self.metadata.get(key) else { return nil }
        return try NamespacePolicies.decoded(stored.value, key: key)
    }

    /// Creates a namespace with the given policies; throws `alreadyExists` when it exists.
    func createNamespace(tenant: String, namespace: String, policies: NamespacePolicies = NamespacePolicies()) async throws {
        _ = try await self.metadata.put(Self.policiesKey(tenant: tenant, namespace: namespace), value: try policies.encoded(), expecting: .absent)
    }

    /// The namespaces of a tenant, as `tenant/namespace`.
    func namespaces(of tenant: String) async throws -> [String] {
        try await self.metadata.children(of: "/admin/policies/\(tenant)").sorted().map { "\(tenant)/\($0)" }
    }

    /// Changes a namespace's policies by compare-and-set, retrying on a concurrent change.
    /// Topics loaded from then on use them. Throws `notFound` when the namespace does not
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
                return
            } catch let error as MetadataError where error.code == .badVersion {
                continue
            }
        }
    }

    /// Makes sure `public/default` exists, with the broker's persistence and compression
    /// as its policies.
    func createDefaultNamespace() async throws {
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
