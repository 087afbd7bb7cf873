import Logging
import PulsarWire
import Synchronization

extension Consumer {
    /// Brings the subscribed topics in line with `pattern`: subscribes to matching topics
    /// not yet consumed and closes the sessions of topics that are gone. A topic that
    /// cannot be subscribed now is tried again in the next round.
    func discover(_ pattern: TopicPattern) async throws(PulsarClientError) {
        let wanted = pattern.matching(try await self.client.topics(ofNamespace: pattern.namespace))
        let current = self.discovery.withLock { $0.topics }
        let wantedNames = Set(wanted.map(\.description))
        for topic in wanted where current[topic.description] == nil {
            do {
                let added = try await self.add(topic)
                self.discovery.withLock { $0.topics[topic.description] = added }
                self.client.logger.debug("pattern consumer subscribed", metadata: ["topic": "\(topic)"])
            } catch {
                self.client.logger.info("pattern consumer cannot subscribe yet", metadata: ["topic": "\(topic)", "error": "\(error)"])
            }
        }
        for (topic, partitions) in current where !wantedNames.contains(topic) {
            for partition in partitions {
                if let member = self.members.member(forTopic: partition) { await self.remove(member) }
            }
            self.discovery.withLock { _ = $0.topics.removeValue(forKey: topic) }
            self.client.logger.debug("pattern consumer dropped a topic that is gone", metadata: ["topic": "\(topic)"])
        }
    }

    /// Runs ``discover(_:)`` every `period` until the consumer or the client closes.
    func startDiscovery(_ pattern: TopicPattern, every period: Duration) {
        let loop = self.client.background.start {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: period)
                    try await self.discover(pattern)
                } catch is CancellationError {
                    return
                } catch {
                    self.client.logger.info("topic discovery failed; trying again", metadata: ["namespace": "\(pattern.namespace)", "error": "\(error)"])
                }
            }
        }
        self.discovery.withLock { $0.loop = loop }
    }
}

extension PulsarClient {
    /// Subscribes to the topics of `namespace` (`tenant/namespace`) whose local name
    /// matches `pattern`, now and as topics come and go: every
    /// ``ConsumerConfiguration/patternAutoDiscoveryPeriod`` the namespace's topics are
    /// listed again, new matches subscribed and deleted topics dropped. No topic needs to
    /// match at first.
    public func subscribe(
        namespace: String, topicsMatching pattern: String, subscription: String, configuration: ConsumerConfiguration = ConsumerConfiguration()
    ) async throws(PulsarClientError) -> Consumer {
        let pattern = try TopicPattern(namespace: namespace, pattern: pattern)
        let consumer = try Consumer.make(
            client: self, subscription: subscription, configuration: configuration, durable: true, start: nil,
            defaultDeadLetterTopic: "persistent://\(namespace)/\(subscription)-DLQ"
        )
        do {
            try await consumer.discover(pattern)
            try self.register(consumer)
        } catch {
            await consumer.close()
            throw error
        }
        consumer.startDiscovery(pattern, every: configuration.patternAutoDiscoveryPeriod)
        return consumer
    }
}
