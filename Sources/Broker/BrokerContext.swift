import Foundation
import Ledger
import ManagedLedger
import Metadata
import Synchronization

/// What every connection of a broker shares: its identity, the metadata store, the ledger
/// client and the topics it has loaded.
final class BrokerContext: Sendable {
    let name: String
    let serviceURL: String
    let httpURL: String
    let maxMessageSize: Int
    let metadata: any MetadataStore
    let client: LedgerClient
    let ledgerConfiguration: ManagedLedgerConfiguration
    private let topics = Mutex<[TopicName: Task<Topic, any Error>]>([:])

    init(
        name: String, serviceURL: String, httpURL: String, maxMessageSize: Int, metadata: any MetadataStore, client: LedgerClient,
        ledgerConfiguration: ManagedLedgerConfiguration
    ) {
        self.name = name
        self.serviceURL = serviceURL
        self.httpURL = httpURL
        self.maxMessageSize = maxMessageSize
        self.metadata = metadata
        self.client = client
        self.ledgerConfiguration = ledgerConfiguration
    }

    /// The topic, loaded on first use (which fences a previous owner's ledger).
    func topic(_ name: TopicName) async throws -> Topic {
        let task = self.topics.withLock { topics in
            if let loading = topics[name] { return loading }
            let loading = Task {
                let ledger = try await ManagedLedger.open(
                    name: name.ledgerName, client: self.client, metadata: self.metadata, configuration: self.ledgerConfiguration
                )
                return Topic(name: name, ledger: ledger)
            }
            topics[name] = loading
            return loading
        }
        do {
            return try await task.value
        } catch {
            self.topics.withLock { _ = $0.removeValue(forKey: name) }
            throw BrokerError(.persistence, "cannot load \(name): \(error)")
        }
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

    /// Makes sure `public/default` exists.
    func createDefaultNamespace() async throws {
        let key = "/admin/policies/public/default"
        if try await self.metadata.get(key) == nil {
            do {
                _ = try await self.metadata.put(key, value: Array("{}".utf8), expecting: .absent)
            } catch let error as MetadataError where error.code == .alreadyExists {}
        }
    }
}
