import ManagedLedger
import NIOCore
import PulsarProto

/// The requests a connection runs in its task group: each answers its client in the
/// response type it waits for, success or not.
extension PulsarConnection {
    /// Registers a producer. A WaitForExclusive producer that has to wait gets a
    /// PRODUCER_SUCCESS with `producer_ready` false now and another, ready, when the topic
    /// lets it in (``producerReady(_:)``).
    func createProducer(_ request: Pulsar_Proto_CommandProducer) async {
        do {
            let topic = try await self.broker.topic(try TopicName(request.topic))
            try await topic.checkProducerQuota()
            let (producer, ready) = try await topic.addProducer(
                name: request.hasProducerName ? request.producerName : nil, accessMode: request.producerAccessMode,
                connection: ObjectIdentifier(self), producerID: request.producerID, requestID: request.requestID, brokerName: self.broker.name, sink: self
            )
            let registered = try await self.eventLoop.submit { self.machine.producerCreated(request.producerID, producer) }.get()
            guard registered else {
                topic.onLoop { $0.removeProducer(producer) }
                return
            }
            let lastSequenceID = await topic.lastSequenceID(of: producer.name)
            self.send(Self.producerSuccess(request.requestID, producer.name, ready: ready, lastSequenceID: lastSequenceID))
            // Closed by its topic before it was registered here: the client hears it now.
            if producer.isClosed { self.producerClosed(producer) }
        } catch {
            self.fail(requestID: request.requestID, error)
        }
    }

    /// PRODUCER_SUCCESS; `lastSequenceID` is the producer's highest sequence id stored
    /// (deduplication), or -1.
    static func producerSuccess(_ requestID: UInt64, _ name: String, ready: Bool, lastSequenceID: Int64 = -1) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .producerSuccess
        command.producerSuccess.requestID = requestID
        command.producerSuccess.producerName = name
        command.producerSuccess.lastSequenceID = lastSequenceID
        command.producerSuccess.producerReady = ready
        return command
    }

    func subscribe(_ request: Pulsar_Proto_CommandSubscribe) async {
        do {
            let topic = try await self.broker.topic(try TopicName(request.topic))
            let consumer = try await topic.subscribe(SubscribeRequest(request), sink: self)
            let registered = try await self.eventLoop.submit { self.machine.consumerCreated(request.consumerID, consumer) }.get()
            guard registered else {
                topic.onLoop { $0.removeConsumer(consumer) }
                return
            }
            self.send(PulsarErrorAnswer.success(request.requestID))
            if consumer.isClosed {
                // Closed by its topic (a seek, an unload) before it was registered here.
                self.consumerClosed(consumer)
                return
            }
            topic.onLoop { _ in consumer.subscription.announceActiveConsumer() }
        } catch {
            self.fail(requestID: request.requestID, error)
        }
    }

    func unsubscribe(_ consumer: Consumer, requestID: UInt64) async {
        do {
            try await consumer.topic?.unsubscribe(consumer)
            _ = try? await self.eventLoop.submit { self.machine.consumerClosedByBroker(consumer.consumerID) { $0 === consumer } }.get()
            self.send(PulsarErrorAnswer.success(requestID))
        } catch {
            self.fail(requestID: requestID, error)
        }
    }

    /// Moves the subscription to a message or a publish time; its consumers are closed,
    /// each told on its own connection, so that their clients subscribe again from there.
    func seek(_ consumer: Consumer, _ request: Pulsar_Proto_CommandSeek) async {
        do {
            guard let topic = consumer.topic else { throw BrokerError(.serviceNotReady, "the topic was closed; retry") }
            try await topic.seek(consumer, request)
            self.send(PulsarErrorAnswer.success(request.requestID))
        } catch {
            self.fail(requestID: request.requestID, error)
        }
    }

    func lastMessageID(_ consumer: Consumer, _ request: Pulsar_Proto_CommandGetLastMessageId) async {
        guard let topic = consumer.topic else {
            return self.send(PulsarErrorAnswer.error(requestID: request.requestID, .serviceNotReady, "the topic was closed; retry"))
        }
        let last = await topic.lastMessage(for: consumer)
        var command = Pulsar_Proto_BaseCommand()
        command.type = .getLastMessageIDResponse
        command.getLastMessageIDResponse.requestID = request.requestID
        command.getLastMessageIDResponse.lastMessageID.ledgerID = UInt64(bitPattern: last.position.ledgerID)
        command.getLastMessageIDResponse.lastMessageID.entryID = UInt64(bitPattern: last.position.entryID)
        if let batchIndex = last.batchIndex { command.getLastMessageIDResponse.lastMessageID.batchIndex = batchIndex }
        command.getLastMessageIDResponse.consumerMarkDeletePosition.ledgerID = UInt64(bitPattern: last.markDelete.ledgerID)
        command.getLastMessageIDResponse.consumerMarkDeletePosition.entryID = UInt64(bitPattern: last.markDelete.entryID)
        self.send(command)
    }

    func consumerStats(_ consumer: Consumer, _ request: Pulsar_Proto_CommandConsumerStats) async {
        guard let topic = consumer.topic else {
            var command = Pulsar_Proto_BaseCommand()
            command.type = .consumerStats
            command.consumerStats = request
            return self.fail(command, BrokerError(.serviceNotReady, "the topic was closed; retry"))
        }
        let stats = await topic.stats(of: consumer)
        var command = Pulsar_Proto_BaseCommand()
        command.type = .consumerStatsResponse
        command.consumerStatsResponse.requestID = request.requestID
        command.consumerStatsResponse.consumerName = stats.name
        command.consumerStatsResponse.availablePermits = UInt64(stats.permits)
        command.consumerStatsResponse.unackedMessages = UInt64(stats.unacked)
        command.consumerStatsResponse.msgBacklog = UInt64(stats.backlog)
        command.consumerStatsResponse.type = stats.type
        self.send(command)
    }

    /// LOOKUP, PARTITIONED_METADATA and GET_TOPICS_OF_NAMESPACE.
    func topicRequest(_ request: Pulsar_Proto_BaseCommand) async {
        var command = Pulsar_Proto_BaseCommand()
        do {
            switch request.type {
            case .lookup:
                let name = try TopicName(request.lookupTopic.topic)
                command.type = .lookupResponse
                command.lookupTopicResponse.requestID = request.lookupTopic.requestID
                command.lookupTopicResponse.proxyThroughServiceURL = false
                switch try await self.broker.lookup(name, authoritative: request.lookupTopic.authoritative) {
                case .connect(let broker):
                    command.lookupTopicResponse.response = .connect
                    command.lookupTopicResponse.brokerServiceURL = broker.pulsarURL
                    command.lookupTopicResponse.authoritative = true
                case .redirect(let broker, let authoritative):
                    command.lookupTopicResponse.response = .redirect
                    command.lookupTopicResponse.brokerServiceURL = broker.pulsarURL
                    command.lookupTopicResponse.authoritative = authoritative
                }
            case .partitionedMetadata:
                let name = try TopicName(request.partitionMetadata.topic)
                command.type = .partitionedMetadataResponse
                command.partitionMetadataResponse.requestID = request.partitionMetadata.requestID
                command.partitionMetadataResponse.partitions = UInt32(try await self.broker.partitions(of: name))
                command.partitionMetadataResponse.response = .success
            default:
                let namespace = request.getTopicsOfNamespace.namespace
                let parts = namespace.split(separator: "/")
                guard parts.count == 2 else { throw BrokerError(.invalidTopicName, "'\(namespace)' is not a namespace (tenant/namespace)") }
                command.type = .getTopicsOfNamespaceResponse
                command.getTopicsOfNamespaceResponse.requestID = request.getTopicsOfNamespace.requestID
                command.getTopicsOfNamespaceResponse.topics = try await self.broker.topics(tenant: String(parts[0]), namespace: String(parts[1]))
            }
            self.send(command)
        } catch {
            self.fail(request, error)
        }
    }
}
