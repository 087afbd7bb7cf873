import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// The requests a connection runs in its task group: each answers its client in the
/// response type it waits for, success or not.
extension PulsarConnection {
    /// Registers a producer. A WaitForExclusive producer that has to wait gets a
    /// PRODUCER_SUCCESS with `producer_ready` false now and another, ready, when the topic
    /// lets it in (``producerReady(_:)``).
    func createProducer(_ request: Pulsar_Proto_CommandProducer) async {
        do {
            let name = try TopicName(request.topic)
            guard name.persistent else { return await self.createNonPersistentProducer(name, request) }
            let topic = try await self.broker.topicForClient(name)
            try await topic.checkProducerQuota()
            let (producer, ready) = try await topic.addProducer(
                name: request.hasProducerName ? request.producerName : nil, accessMode: request.producerAccessMode,
                connection: ObjectIdentifier(self), producerID: request.producerID, requestID: request.requestID,
                topicEpoch: request.hasTopicEpoch ? request.topicEpoch : nil, brokerName: self.broker.name, sink: self
            )
            do {
                if ready { try await topic.storeEpoch(of: producer) }
            } catch {
                topic.release(producer)
                throw error
            }
            let lastSequenceID = await topic.lastSequenceID(of: producer.name)
            let success = Self.producerSuccess(request.requestID, producer.name, ready: ready, lastSequenceID: lastSequenceID, topicEpoch: producer.topicEpoch)
            let admission = try await self.admit(success) { $0.producerCreated(request.producerID, producer) }
            guard admission == .registered else {
                topic.release(producer)
                return self.answerCancelled(admission, request.requestID, "producer \(request.producerID)")
            }
            // Closed by its topic before it was registered here: the client hears it now.
            if producer.isClosed { self.producerClosed(producer) }
        } catch {
            self.eventLoop.execute { self.machine.producerFailed(request.producerID) }
            self.fail(requestID: request.requestID, error)
        }
    }

    /// Answers a PRODUCER for a producer this connection registered already: its client
    /// asked again (it had given up waiting for the first answer).
    func answerExistingProducer(_ producer: Producer, _ request: Pulsar_Proto_CommandProducer) async {
        let (ready, lastSequenceID) = await producer.topic.admission(of: producer)
        self.send(Self.producerSuccess(request.requestID, producer.name, ready: ready, lastSequenceID: lastSequenceID, topicEpoch: producer.topicEpoch))
    }

    /// Tells the client of a WaitForExclusive producer that it now holds the topic, once
    /// its epoch is stored; when that fails, closes it so that it connects again.
    func announceReady(_ producer: Producer) async {
        do {
            try await producer.topic.storeEpoch(of: producer)
        } catch {
            self.broker.logger.warning("a waiting producer could not take its topic", metadata: ["producer": "\(producer.name)", "error": "\(error)"])
            producer.topic.release(producer)
            return self.producerClosed(producer)
        }
        self.eventLoop.execute {
            guard self.machine.producer(producer.producerID) === producer else { return }
            self.send(Self.producerSuccess(producer.requestID, producer.name, ready: true, topicEpoch: producer.topicEpoch))
        }
    }

    /// Registers a producer or consumer created for a request (`register` on the state
    /// machine) and, when it is registered, queues `success` in the same turn of the
    /// connection's loop: a CLOSE_PRODUCER or CLOSE_CONSUMER for it (sent on the loop once
    /// it is registered) then always follows its success. Sent the other way round, the
    /// Pulsar client took the close for its creating producer, then the success, and kept
    /// a producer the broker no longer had: its sends were refused, and once that
    /// connection closed it was never connected again.
    private func admit(
        _ success: Pulsar_Proto_BaseCommand, _ register: @escaping @Sendable (inout Machine) -> Machine.Admission
    ) async throws -> Machine.Admission {
        try await self.eventLoop.submit {
            let admission = register(&self.machine)
            if admission == .registered { self.send(success) }
            return admission
        }.get()
    }

    /// Answers a request whose producer or consumer was admitted after its client closed it.
    private func answerCancelled(_ admission: Machine.Admission, _ requestID: UInt64, _ what: String) {
        guard admission == .cancelled else { return }
        self.fail(requestID: requestID, BrokerError(.serviceNotReady, "\(what) was closed before it was created"))
    }

    /// Registers a producer of a non-persistent topic (always ready: Shared access).
    func createNonPersistentProducer(_ name: TopicName, _ request: Pulsar_Proto_CommandProducer) async {
        do {
            let topic = try await self.broker.nonPersistentTopic(name)
            let producer = try await topic.addProducer(
                name: request.hasProducerName ? request.producerName : nil, producerID: request.producerID, requestID: request.requestID,
                connection: ObjectIdentifier(self), brokerName: self.broker.name, sink: self
            )
            let success = Self.producerSuccess(request.requestID, producer.name, ready: true)
            let admission = try await self.admit(success) { $0.producerCreated(request.producerID, producer) }
            guard admission == .registered else {
                topic.release(producer)
                return self.answerCancelled(admission, request.requestID, "producer \(request.producerID)")
            }
            if producer.isClosed { self.producerClosed(producer) }
        } catch {
            self.eventLoop.execute { self.machine.producerFailed(request.producerID) }
            self.fail(requestID: request.requestID, error)
        }
    }

    /// PRODUCER_SUCCESS; `lastSequenceID` is the producer's highest sequence id stored
    /// (deduplication), or -1.
    static func producerSuccess(
        _ requestID: UInt64, _ name: String, ready: Bool, lastSequenceID: Int64 = -1, topicEpoch: UInt64? = nil
    ) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .producerSuccess
        command.producerSuccess.requestID = requestID
        command.producerSuccess.producerName = name
        command.producerSuccess.lastSequenceID = lastSequenceID
        command.producerSuccess.producerReady = ready
        if let topicEpoch { command.producerSuccess.topicEpoch = topicEpoch }
        return command
    }

    func subscribe(_ request: Pulsar_Proto_CommandSubscribe) async {
        do {
            let name = try TopicName(request.topic)
            let consumer: any ConsumerHandle
            if name.persistent {
                consumer = try await self.broker.topicForClient(name).subscribe(SubscribeRequest(request), sink: self)
            } else {
                consumer = try await self.broker.nonPersistentTopic(name).subscribe(SubscribeRequest(request), sink: self)
            }
            let admission = try await self.admit(PulsarErrorAnswer.success(request.requestID)) { $0.consumerCreated(request.consumerID, consumer) }
            guard admission == .registered else {
                consumer.release()
                return self.answerCancelled(admission, request.requestID, "consumer \(request.consumerID)")
            }
            if consumer.isClosed {
                // Closed by its topic (a seek, an unload) before it was registered here.
                self.consumerClosed(consumer)
                return
            }
            consumer.subscribed()
        } catch {
            self.eventLoop.execute { self.machine.consumerFailed(request.consumerID) }
            self.fail(requestID: request.requestID, error)
        }
    }

    func unsubscribe(_ consumer: any ConsumerHandle, requestID: UInt64) async {
        do {
            try await consumer.unsubscribe()
            _ = try? await self.eventLoop.submit { self.machine.consumerClosedByBroker(consumer.consumerID) { $0 === consumer } }.get()
            self.send(PulsarErrorAnswer.success(requestID))
        } catch {
            self.fail(requestID: requestID, error)
        }
    }

    /// Moves the subscription to a message or a publish time; its consumers are closed,
    /// each told on its own connection, so that their clients subscribe again from there.
    func seek(_ consumer: any ConsumerHandle, _ request: Pulsar_Proto_CommandSeek) async {
        do {
            try await consumer.seek(request)
            // On the loop: after the CLOSE_CONSUMER the seek queued there for this connection's consumer.
            self.eventLoop.execute { self.send(PulsarErrorAnswer.success(request.requestID)) }
        } catch {
            self.fail(requestID: request.requestID, error)
        }
    }

    func lastMessageID(_ consumer: any ConsumerHandle, _ request: Pulsar_Proto_CommandGetLastMessageId) async {
        let last: LastMessage
        do {
            last = try await consumer.lastMessage()
        } catch {
            return self.fail(requestID: request.requestID, error)
        }
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

    func consumerStats(_ consumer: any ConsumerHandle, _ request: Pulsar_Proto_CommandConsumerStats) async {
        let stats: ConsumerStats
        do {
            stats = try await consumer.stats()
        } catch {
            var command = Pulsar_Proto_BaseCommand()
            command.type = .consumerStats
            command.consumerStats = request
            return self.fail(command, error)
        }
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
                command.partitionMetadataResponse.partitions = UInt32(clamping: try await self.broker.partitions(of: name))
                command.partitionMetadataResponse.response = .success
            default:
                let namespace = request.getTopicsOfNamespace.namespace
                let parts = namespace.split(separator: "/")
                guard parts.count == 2 else { throw BrokerError(.invalidTopicName, "'\(namespace)' is not a namespace (tenant/namespace)") }
                command.type = .getTopicsOfNamespaceResponse
                command.getTopicsOfNamespaceResponse.requestID = request.getTopicsOfNamespace.requestID
                let (tenant, local) = (String(parts[0]), String(parts[1]))
                // Pattern consumers ask by mode: persistent (the default), non-persistent or all.
                let mode = request.getTopicsOfNamespace.mode
                var topics = mode == .nonPersistent ? [] : try await self.broker.topics(tenant: tenant, namespace: local)
                if mode != .persistent { topics += await self.broker.nonPersistentTopics(tenant: tenant, namespace: local) }
                command.getTopicsOfNamespaceResponse.topics = topics
            }
            self.send(command)
        } catch {
            self.fail(request, error)
        }
    }
}
