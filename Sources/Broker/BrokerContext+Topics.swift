import Foundation
import MagnetarHTTP
import MagnetarHTTPClient
import ManagedLedger
import Metadata
import PulsarWire

extension BrokerContext {
    /// Where a request about a topic is served.
    enum TopicServer: Sendable {
        /// Here: this broker owns (or has just taken) the topic's bundle.
        case here
        /// At another broker, by its REST URL; `authoritative` when the leader sent the
        /// request there to take the topic's bundle (Pulsar's lookup semantics).
        case elsewhere(httpURL: String, authoritative: Bool)
    }

    /// Where a request about `name` must go: here when this broker owns its bundle or
    /// takes it now, else the owner (or the leader, which places an unowned bundle).
    /// `authoritative` as in a lookup: the leader placed the bundle here.
    func server(of name: TopicName, authoritative: Bool = false) async throws -> TopicServer {
        let hash = NamespaceBundles.hash(name.description)
        if self.membership.serves(name, hash: hash) { return .here }
        guard try await self.policies(tenant: name.tenant, namespace: name.namespace) != nil else {
            throw BrokerError(.notFound, "namespace \(name.tenant)/\(name.namespace) does not exist")
        }
        switch try await self.lookup(name, authoritative: authoritative) {
        case .connect(let broker) where broker.brokerId == self.membership.identity?.brokerId:
            try await self.ensureServed(name)
            return .here
        case .connect(let broker):
            return .elsewhere(httpURL: broker.httpURL, authoritative: false)
        case .redirect(let broker, let authoritative):
            return .elsewhere(httpURL: broker.httpURL, authoritative: authoritative)
        }
    }

    /// Whether the topic exists: it has a log, or partitions, or is a partition of a
    /// partitioned topic (made on first use).
    func topicExists(_ name: TopicName) async throws -> Bool {
        if try await self.metadata.get(ClusterLayout.managedLedger(name.ledgerName)) != nil { return true }
        if let base = name.partitionedTopic, name.partitionIndex < (try await self.partitions(of: base)) { return true }
        return try await self.partitions(of: name) > 0
    }

    /// The loaded topic `name`, which must exist (`notFound`); loads it on first use.
    func existingTopic(_ name: TopicName) async throws -> Topic {
        guard try await self.topicExists(name) else { throw BrokerError(.notFound, "topic \(name) does not exist") }
        return try await self.topic(name)
    }

    /// The topic a producer or consumer asks for, created on first use unless its
    /// namespace turned auto-creation off: then a topic that does not exist is `notFound`,
    /// as Pulsar answers.
    func topicForClient(_ name: TopicName) async throws -> Topic {
        if !self.topics.isLoaded(name), try await !self.topicExists(name),
            try await self.policies(tenant: name.tenant, namespace: name.namespace)?.autoTopicCreation?.allowAutoTopicCreation == false
        {
            throw BrokerError(.notFound, "topic \(name) does not exist, and namespace \(name.namespaceName) does not create topics on first use")
        }
        return try await self.topic(name)
    }

    /// Creates a non-partitioned topic (its log) here; `conflict` when it exists.
    func createTopic(_ name: TopicName) async throws {
        guard try await !self.topicExists(name) else { throw BrokerError(.conflict, "topic \(name) already exists") }
        _ = try await self.topic(name)
    }

    /// Deletes a topic served here: refused (`notAllowed`) while producers or consumers
    /// are connected, unless `force`, which disconnects them. `notFound` when it does not exist.
    func deleteTopic(_ name: TopicName, force: Bool) async throws {
        guard try await self.metadata.get(ClusterLayout.managedLedger(name.ledgerName)) != nil else {
            throw BrokerError(.notFound, "topic \(name) does not exist")
        }
        try await self.topics.withTopicClosed(name) { topic in
            let inUse = await topic.isInUse
            guard force || !inUse else {
                throw BrokerError(.notAllowed, "topic \(name) has producers or consumers connected; delete it with force")
            }
        } _: {
            try await self.deleteTopicData(name)
        }
    }

    /// Deletes a topic's log, which no one may have open, and its own policies.
    func deleteTopicData(_ name: TopicName) async throws {
        try await ManagedLedger.delete(name: name.ledgerName, client: Self.client(for: name, among: self.clients), metadata: self.metadata)
        do {
            try await self.metadata.delete(Self.topicPoliciesKey(name))
        } catch let error as MetadataError where error.code == .notFound {}
    }

    /// Raises a partitioned topic's partition count (never lowers it).
    func updatePartitions(_ name: TopicName, to count: Int) async throws {
        let key = Self.partitionsKey(name)
        guard let stored = try await self.metadata.get(key) else { throw BrokerError(.notFound, "partitioned topic \(name) does not exist") }
        if let refusal = self.limits.partitionRefusal(count) { throw BrokerError(.notAllowed, refusal) }
        let current = try await self.partitions(of: name)
        guard count > current else {
            throw BrokerError(.notAllowed, "partitions can only be added: \(name) has \(current), asked for \(count)")
        }
        _ = try await self.metadata.put(key, value: Array("{\"partitions\":\(count)}".utf8), expecting: .version(stored.version))
    }

    /// The non-partitioned topics of a namespace and the partitions of its partitioned
    /// ones (whether or not they were used yet), as Pulsar lists them.
    func persistentTopics(tenant: String, namespace: String) async throws -> [String] {
        var names = Set(try await self.metadata.children(of: ClusterLayout.managedLedgers(tenant: tenant, namespace: namespace)))
        for local in try await self.metadata.children(of: ClusterLayout.partitionedTopics(tenant: tenant, namespace: namespace)) {
            let count = try await self.partitions(of: try TopicName("persistent://\(tenant)/\(namespace)/\(local)"))
            for index in 0..<count { names.insert("\(local)-partition-\(index)") }
        }
        return names.sorted().map { "persistent://\(tenant)/\(namespace)/\($0)" }
    }

    /// The partitioned topics of a namespace in `domain`.
    func partitionedTopics(tenant: String, namespace: String, domain: String = "persistent") async throws -> [String] {
        try await self.metadata.children(of: ClusterLayout.partitionedTopics(tenant: tenant, namespace: namespace, domain: domain)).sorted()
            .map { "\(domain)://\(tenant)/\(namespace)/\($0)" }
    }

    /// Deletes the partition count of a non-persistent partitioned topic (its partitions
    /// keep nothing); `notFound` when there is none.
    func deleteNonPersistentPartitionedTopic(_ name: TopicName) async throws {
        do {
            try await self.metadata.delete(Self.partitionsKey(name))
        } catch let error as MetadataError where error.code == .notFound {
            throw BrokerError(.notFound, "partitioned topic \(name) does not exist")
        }
    }

    /// Sends `method path` for each partition of `name` to the broker serving it (this
    /// one included) and returns each answer, in partition order.
    func forEachPartition(
        of name: TopicName, _ method: String, suffix: String, query: String = ""
    ) async throws -> [HTTPClientResponse] {
        let count = try await self.partitions(of: name)
        guard count > 0 else { throw BrokerError(.notFound, "partitioned topic \(name) does not exist") }
        guard let me = self.membership.identity else { throw BrokerError(.serviceNotReady, "the broker is starting; retry") }
        var answers: [HTTPClientResponse] = []
        for index in 0..<count {
            let partition = try TopicName("\(name)-partition-\(index)")
            var target = me.httpURL
            var query = query
            if case .elsewhere(let url, let authoritative) = try await self.server(of: partition) {
                target = url
                if authoritative { query += (query.isEmpty ? "" : "&") + "authoritative=true" }
            }
            let path = "/admin/v2/persistent/\(partition.tenant)/\(partition.namespace)/\(partition.local)\(suffix)\(query.isEmpty ? "" : "?" + query)"
            var response = try await HTTPClient.request(method, target + path, timeout: .seconds(30))
            // A broker that is not the owner (or the leader placing the bundle) redirects.
            for _ in 0..<3 where response.status == 307 {
                guard let location = response.header("Location") else { break }
                response = try await HTTPClient.request(method, location, timeout: .seconds(30))
            }
            answers.append(response)
        }
        return answers
    }
}

extension BrokerContext {
    /// Pulsar's metrics of the topics loaded here, persistent and not (see
    /// ``PulsarMetrics``). Each topic's figures are read on its own loop, one topic at a
    /// time, so no loop is held for long. Non-persistent topics store nothing: their
    /// storage series are zero.
    func pulsarMetrics() async -> String {
        var samples: [PulsarMetrics.Sample] = []
        for topic in await self.topics.loaded() {
            let stats = await topic.stats()
            samples.append(PulsarMetrics.Sample(topic: topic.name, stats: stats, writeLatency: topic.writeLatency.reading, entrySizes: topic.entrySizes.reading))
        }
        let (noLatency, noSizes) = (BucketCounters.writeLatency().reading, BucketCounters.entrySize().reading)
        for topic in self.volatileTopics.all {
            samples.append(PulsarMetrics.Sample(topic: topic.name, stats: await topic.stats(), writeLatency: noLatency, entrySizes: noSizes))
        }
        return PulsarMetrics(cluster: self.clusterName, topicLevel: self.topicLevelMetrics).render(samples)
    }
}
