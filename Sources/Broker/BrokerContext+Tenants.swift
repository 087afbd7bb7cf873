import Foundation
import Metadata
import PulsarWire

extension BrokerContext {
    // MARK: Clusters

    /// The clusters known to the metadata store.
    func clusters() async throws -> [String] {
        try await self.metadata.children(of: ClusterLayout.clusters).sorted()
    }

    /// A cluster's URLs, or nil when it is unknown.
    func cluster(_ name: String) async throws -> ClusterInfo? {
        guard let stored = try await self.metadata.get(ClusterLayout.cluster(name)) else { return nil }
        return try Self.decode(ClusterInfo.self, stored.value, key: ClusterLayout.cluster(name))
    }

    /// Registers this broker's cluster, with this broker's URLs, unless it is known.
    func registerCluster(serviceURL: String, httpURL: String) async throws {
        let info = ClusterInfo(serviceUrl: httpURL, brokerServiceUrl: serviceURL)
        do {
            _ = try await self.metadata.put(ClusterLayout.cluster(self.clusterName), value: try Self.encode(info), expecting: .absent)
        } catch let error as MetadataError where error.code == .alreadyExists {}
    }

    // MARK: Tenants

    /// The tenants: those with info, and those that only have namespaces.
    func tenants() async throws -> [String] {
        try await self.metadata.children(of: ClusterLayout.tenants).sorted()
    }

    /// A tenant's info, or nil when it does not exist. A tenant that has namespaces but
    /// no info of its own (made before tenants had any) has empty info.
    func tenant(_ name: String) async throws -> TenantInfo? {
        let key = ClusterLayout.tenant(name)
        if let stored = try await self.metadata.get(key) { return try Self.decode(TenantInfo.self, stored.value, key: key) }
        return try await self.metadata.children(of: key).isEmpty ? nil : TenantInfo()
    }

    /// Creates a tenant (`alreadyExists` when it exists) or replaces its info (`notFound`
    /// when it does not). Its allowed clusters must be known.
    func putTenant(_ name: String, _ info: TenantInfo, create: Bool) async throws {
        let known = try await self.clusters()
        if let unknown = info.allowedClusters.first(where: { !known.contains($0) }) {
            throw BrokerError(.notAllowed, "cluster '\(unknown)' does not exist")
        }
        let key = ClusterLayout.tenant(name)
        let exists = try await self.tenant(name) != nil
        if create, exists { throw MetadataError(.alreadyExists, "tenant \(name) already exists") }
        if !create, !exists { throw MetadataError(.notFound, "tenant \(name) does not exist") }
        _ = try await self.metadata.put(key, value: try Self.encode(info), expecting: create ? .absent : .any)
    }

    /// Deletes a tenant. With namespaces left it refuses (`notAllowed`) unless `force`,
    /// which deletes them (and their topics) first.
    func deleteTenant(_ name: String, force: Bool) async throws {
        guard try await self.tenant(name) != nil else { throw MetadataError(.notFound, "tenant \(name) does not exist") }
        let namespaces = try await self.metadata.children(of: ClusterLayout.tenant(name))
        if !namespaces.isEmpty, !force {
            throw BrokerError(.notAllowed, "tenant \(name) still has namespaces: \(namespaces.sorted().joined(separator: ", "))")
        }
        for namespace in namespaces { try await self.deleteNamespace(tenant: name, namespace: namespace, force: true) }
        do {
            try await self.metadata.delete(ClusterLayout.tenant(name))
        } catch let error as MetadataError where error.code == .notFound {}
    }

    // MARK: Namespaces

    /// Deletes a namespace. With topics left it refuses (`notAllowed`) unless `force`,
    /// which deletes every topic first (closing those loaded here; the owners of the
    /// others are asked to unload them).
    func deleteNamespace(tenant: String, namespace: String, force: Bool) async throws {
        guard try await self.policies(tenant: tenant, namespace: namespace) != nil else {
            throw MetadataError(.notFound, "namespace \(tenant)/\(namespace) does not exist")
        }
        let topics = try await self.topics(tenant: tenant, namespace: namespace)
        if !topics.isEmpty, !force {
            throw BrokerError(.notAllowed, "namespace \(tenant)/\(namespace) is not empty: it has \(topics.count) topics")
        }
        if !topics.isEmpty {
            // No broker loads its topics from now on; those loaded close.
            try await self.updatePolicies(tenant: tenant, namespace: namespace) { $0.deleted = true }
            try await self.unloadNamespace(tenant: tenant, namespace: namespace)
        }
        for topic in topics {
            let name = try TopicName(topic)
            if try await self.partitions(of: name) > 0 { try await self.metadata.delete(Self.partitionsKey(name)) }
            try await self.deleteTopicData(name)
        }
        try await self.metadata.delete(Self.policiesKey(tenant: tenant, namespace: namespace))
    }

    /// Unloads every bundle of a namespace, wherever it is owned.
    func unloadNamespace(tenant: String, namespace: String) async throws {
        let layout = try await self.bundleLayout(tenant: tenant, namespace: namespace)
        await withDiscardingTaskGroup { group in
            for range in layout.ranges {
                group.addTask {
                    let bundle = Bundle(tenant: tenant, namespace: namespace, range: range)
                    guard let owner = try? await self.owner(of: bundle) else { return }
                    await self.requestUnload(bundleNamed: bundle.description, at: owner.address)
                }
            }
        }
    }

    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], key: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw BrokerError(.metadata, "\(key) does not hold \(type): \(error)")
        }
    }
}
