import Logging
import NIOCore
import PulsarProto
import PulsarWire

extension PulsarClient {
    /// The connection to the broker that serves `topic`, following redirects.
    func connection(serving topic: TopicName) async throws(PulsarClientError) -> ClientConnection {
        if self.configuration.serviceURL.scheme == .http { return try await self.pool.connection(to: try await self.httpLookup(topic)) }
        var address = self.serviceAddress()
        var authoritative = false
        for _ in 0...self.configuration.maxLookupRedirects {
            let connection = try await self.pool.connection(to: address)
            let frame = try await connection.request(timeout: self.configuration.operationTimeout) { requestID in
                var command = Pulsar_Proto_BaseCommand()
                command.type = .lookup
                command.lookupTopic.topic = topic.description
                command.lookupTopic.requestID = requestID
                command.lookupTopic.authoritative = authoritative
                return command
            }
            let response = frame.command.lookupTopicResponse
            switch response.response {
            case .connect:
                if response.proxyThroughServiceURL { return connection }
                let target = try Self.brokerAddress(response.brokerServiceURL, topic: topic)
                return target == address ? connection : try await self.pool.connection(to: target)
            case .redirect:
                address = try Self.brokerAddress(response.brokerServiceURL, topic: topic)
                authoritative = response.authoritative
            case .failed:
                throw PulsarClientError(
                    .lookupFailed, "lookup of \(topic) failed: \(response.message)", serverError: response.hasError ? response.error : nil
                )
            }
        }
        throw PulsarClientError(.tooManyRedirects, "lookup of \(topic) was redirected more than \(self.configuration.maxLookupRedirects) times")
    }

    private static func brokerAddress(_ url: String, topic: TopicName) throws(PulsarClientError) -> BrokerAddress {
        do throws(PulsarClientError) {
            let parsed = try ServiceURL(parsing: url)
            guard let first = parsed.addresses.first else { throw PulsarClientError(.lookupFailed, "empty broker URL") }
            return first
        } catch {
            throw PulsarClientError(.lookupFailed, "lookup of \(topic) answered an unusable broker URL '\(url)': \(error.message)")
        }
    }

    /// How many partitions `topic` has; 0 for a topic that is not partitioned.
    public func partitionCount(of topic: String) async throws(PulsarClientError) -> Int {
        try await self.partitionCount(of: try TopicName(topic))
    }

    func partitionCount(of topic: TopicName) async throws(PulsarClientError) -> Int {
        if self.configuration.serviceURL.scheme == .http { return try await self.httpPartitionCount(of: topic) }
        let connection = try await self.pool.connection(to: self.serviceAddress())
        let frame = try await connection.request(timeout: self.configuration.operationTimeout) { requestID in
            var command = Pulsar_Proto_BaseCommand()
            command.type = .partitionedMetadata
            command.partitionMetadata.topic = topic.description
            command.partitionMetadata.requestID = requestID
            return command
        }
        let response = frame.command.partitionMetadataResponse
        if response.hasResponse, response.response == .failed {
            throw PulsarClientError(
                .lookupFailed, "partitioned metadata of \(topic) failed: \(response.message)", serverError: response.hasError ? response.error : nil
            )
        }
        return Int(response.partitions)
    }

    /// The persistent topics of `namespace` (`tenant/namespace`), partitions listed one by one.
    public func topics(ofNamespace namespace: String) async throws(PulsarClientError) -> [String] {
        if self.configuration.serviceURL.scheme == .http { return try await self.httpTopics(ofNamespace: namespace) }
        let connection = try await self.pool.connection(to: self.serviceAddress())
        let frame = try await connection.request(timeout: self.configuration.operationTimeout) { requestID in
            var command = Pulsar_Proto_BaseCommand()
            command.type = .getTopicsOfNamespace
            command.getTopicsOfNamespace.requestID = requestID
            command.getTopicsOfNamespace.namespace = namespace
            command.getTopicsOfNamespace.mode = .persistent
            return command
        }
        return frame.command.getTopicsOfNamespaceResponse.topics
    }

    /// Retries `attempt` with the client's backoff while it fails with a retriable error,
    /// until `deadline`; returns its value or throws the last error. A first registration
    /// refused as busy (another exclusive consumer or producer holds the topic) fails at
    /// once: only a reconnection waits for the broker to let an old registration go.
    func retrying<Value>(
        until deadline: ContinuousClock.Instant,
        _ attempt: () async throws(PulsarClientError) -> Value
    ) async throws(PulsarClientError) -> Value {
        var backoff = self.configuration.backoff
        while true {
            do {
                return try await attempt()
            } catch where error.isRetriable && !self.isClosed && error.serverError != .consumerBusy && error.serverError != .producerBusy {
                let delay = backoff.next()
                guard ContinuousClock.now + delay < deadline else { throw error }
                self.logger.debug("retrying", metadata: ["error": "\(error)", "delay": "\(delay)"])
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw PulsarClientError(.cancelled, "cancelled while waiting to retry")
                }
            }
        }
    }
}
