import Foundation
import Logging
import Metadata
import PulsarWire

extension BrokerContext {
    /// Changes a topic's own policies by compare-and-set (creating them when it has none),
    /// retrying on a concurrent change; the topic's namespace must exist. Policies left
    /// empty are deleted. The topic, if loaded here, runs under them at once; elsewhere
    /// within a policy round.
    func updateTopicPolicies(_ name: TopicName, _ change: (inout NamespacePolicies) throws -> Void) async throws {
        guard try await self.policies(tenant: name.tenant, namespace: name.namespace) != nil else {
            throw BrokerError(.notFound, "namespace \(name.tenant)/\(name.namespace) does not exist")
        }
        let key = Self.topicPoliciesKey(name)
        while true {
            let stored = try await self.metadata.get(key)
            var policies = try stored.map { try NamespacePolicies.decoded($0.value, key: key) } ?? NamespacePolicies()
            try change(&policies)
            do {
                if policies == NamespacePolicies() {
                    if let stored { try await self.metadata.delete(key, expecting: .version(stored.version)) }
                } else {
                    _ = try await self.metadata.put(key, value: try policies.encoded(), expecting: stored.map { .version($0.version) } ?? .absent)
                }
                break
            } catch let error as MetadataError where error.code == .badVersion || error.code == .alreadyExists || error.code == .notFound {
                continue
            }
        }
        await self.reapplyPolicies { $0 == name }
    }

    /// A topic's own policies (empty when it sets none).
    func topicPolicies(_ name: TopicName) async throws -> NamespacePolicies {
        try await Self.topicPolicies(name, metadata: self.metadata) ?? NamespacePolicies()
    }

    /// Puts the current policies in force on the loaded topics `matching`. Each
    /// namespace's policies are read once, and a topic's own only when its namespace lists
    /// it among those that have some, so a round costs a few reads per namespace.
    func reapplyPolicies(matching: (TopicName) -> Bool) async {
        let loaded = await self.topics.loaded().filter { matching($0.name) }
        let byNamespace = Dictionary(grouping: loaded) { "\($0.name.tenant)/\($0.name.namespace)" }
        for topics in byNamespace.values {
            let (tenant, namespace) = (topics[0].name.tenant, topics[0].name.namespace)
            do {
                let policies = try await self.policies(tenant: tenant, namespace: namespace) ?? NamespacePolicies()
                let withOwn = Set(try await self.metadata.children(of: ClusterLayout.topicPolicies(tenant: tenant, namespace: namespace)))
                for topic in topics {
                    let own = withOwn.contains(topic.name.local) ? try await Self.topicPolicies(topic.name, metadata: self.metadata) : nil
                    try await topic.apply(TopicPolicies(topic: own, namespace: policies, defaults: self.policyDefaults))
                }
            } catch {
                self.logger.warning("applying policies failed", metadata: ["namespace": "\(tenant)/\(namespace)", "error": "\(error)"])
            }
        }
    }
}
