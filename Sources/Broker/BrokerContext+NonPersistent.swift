import Foundation
import Ledger
import Logging
import NIOCore
import PulsarWire
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The non-persistent topics a broker serves: made when a client first uses one, gone
/// when it has no producer or consumer left (or its bundle leaves the broker).
final class NonPersistentTopics: Sendable {
    private let topics = Mutex<[TopicName: NonPersistentTopic]>([:])

    /// The topic, made (on `eventLoop`) when there is none.
    func topic(_ name: TopicName, make: () -> NonPersistentTopic) -> NonPersistentTopic {
        self.topics.withLock { topics in
            if let topic = topics[name], !topic.isClosed { return topic }
            let topic = make()
            topics[name] = topic
            return topic
        }
    }

    /// Forgets `topic` unless a newer one took its name.
    func forget(_ topic: NonPersistentTopic) {
        self.topics.withLock { topics in if topics[topic.name] === topic { topics[topic.name] = nil } }
    }

    /// The topics served now.
    var all: [NonPersistentTopic] { self.topics.withLock { Array($0.values) } }
}

extension BrokerContext {
    /// The non-persistent topic `name`, served here once the broker owns its bundle (as a
    /// persistent topic's is), on the event loop its name hashes to.
    func nonPersistentTopic(_ name: TopicName) async throws -> NonPersistentTopic {
        guard !name.persistent else { throw BrokerError(.invalidTopicName, "\(name) is persistent") }
        try await self.ensureServed(name)
        let (logger, registry) = (self.logger, self.volatileTopics)
        let eventLoop = Self.client(for: name, among: self.clients).eventLoop
        return registry.topic(name) {
            NonPersistentTopic(name: name, eventLoop: eventLoop, logger: logger) { registry.forget($0) }
        }
    }

    /// Closes the non-persistent topics `matching` (their bundle was unloaded or lost):
    /// their clients look them up again.
    func closeNonPersistentTopics(matching: (TopicName) -> Bool) async {
        for topic in self.volatileTopics.all where matching(topic.name) { await topic.close() }
    }

    /// The non-persistent topics of a namespace this broker serves, as full names.
    func localNonPersistentTopics(tenant: String, namespace: String) -> [String] {
        self.volatileTopics.all.map(\.name).filter { $0.tenant == tenant && $0.namespace == namespace }.map(\.description).sorted()
    }

    /// The non-persistent topics of a namespace across the cluster: this broker's and
    /// every other live broker's (asked over HTTP; one that does not answer adds none).
    func nonPersistentTopics(tenant: String, namespace: String) async -> [String] {
        var names = Set(self.localNonPersistentTopics(tenant: tenant, namespace: namespace))
        let me = self.membership.identity?.brokerId
        for broker in ((try? await self.registrations()) ?? []).map(\.address) where broker.brokerId != me {
            guard let url = URL(string: "\(broker.httpURL)/admin/v2/non-persistent/\(tenant)/\(namespace)?local=true") else { continue }
            var request = URLRequest(url: url)
            request.timeoutInterval = 5
            guard let (data, response) = try? await URLSession.shared.data(for: request), (response as? HTTPURLResponse)?.statusCode == 200,
                let listed = try? JSONDecoder().decode([String].self, from: data)
            else { continue }
            names.formUnion(listed)
        }
        return names.sorted()
    }
}
