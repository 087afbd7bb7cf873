import Foundation
import ManagedLedger
import MagnetarVersion
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// One client connection speaking Pulsar's binary protocol.
///
/// Commands are handled on the connection's event loop; the ones that need the metadata
/// store or storage continue in tasks and answer through the channel. Every request gets
/// an answer of the type the client waits for.
final class ServerConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PulsarFrame
    typealias OutboundOut = ByteBuffer

    private let broker: BrokerContext
    private var channel: (any Channel)?
    var producers: [UInt64: (topic: Topic, name: String)] = [:]
    var consumers: [UInt64: (topic: Topic, subscription: Subscription, consumer: Consumer)] = [:]
    /// Set once the channel is inactive: what is admitted afterwards is released at once.
    var closed = false
    private var protocolVersion: Int32 = 0

    init(broker: BrokerContext) {
        self.broker = broker
    }

    func channelActive(context: ChannelHandlerContext) {
        self.channel = context.channel
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        for (topic, name) in self.producers.values {
            topic.onLoop { $0.removeProducer(name) }
        }
        for (topic, subscription, consumer) in self.consumers.values {
            topic.onLoop { $0.consumerLeft(consumer, subscription) }
        }
        self.producers.removeAll()
        self.consumers.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A frame that cannot be parsed: the stream cannot be trusted past it.
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        let command = frame.command
        switch command.type {
        case .connect: self.connect(command.connect)
        case .ping: self.send(.pong) { $0.pong = Pulsar_Proto_CommandPong() }
        case .pong: break
        case .partitionedMetadata: self.partitionedMetadata(command.partitionMetadata)
        case .lookup: self.lookup(command.lookupTopic)
        case .producer: self.producer(command.producer)
        case .send: self.publish(command.send, frame.payload)
        case .closeProducer: self.closeProducer(command.closeProducer)
        case .subscribe: self.subscribe(command.subscribe)
        case .flow: self.flow(command.flow)
        case .ack: self.ack(command.ack)
        case .redeliverUnacknowledgedMessages: self.redeliver(command.redeliverUnacknowledgedMessages)
        case .closeConsumer: self.closeConsumer(command.closeConsumer)
        case .unsubscribe: self.unsubscribe(command.unsubscribe)
        case .getLastMessageID: self.lastMessageID(command.getLastMessageID)
        case .seek: self.seek(command.seek)
        case .getTopicsOfNamespace: self.topicsOfNamespace(command.getTopicsOfNamespace)
        case .getSchema:
            let request = command.getSchema
            self.send(.getSchemaResponse) { response in
                response.getSchemaResponse.requestID = request.requestID
                response.getSchemaResponse.errorCode = .topicNotFound
                response.getSchemaResponse.errorMessage = "no schema is stored for \(request.topic)"
            }
        case .getOrCreateSchema:
            let request = command.getOrCreateSchema
            self.send(.getOrCreateSchemaResponse) { response in
                response.getOrCreateSchemaResponse.requestID = request.requestID
                response.getOrCreateSchemaResponse.errorCode = .notAllowedError
                response.getOrCreateSchemaResponse.errorMessage = "this broker does not store schemas"
            }
        case .consumerStats: self.consumerStats(command.consumerStats)
        case .newTxn, .addPartitionToTxn, .addSubscriptionToTxn, .endTxn, .endTxnOnPartition, .endTxnOnSubscription,
            .tcClientConnectRequest:
            self.refuseTransaction(command)
        default:
            self.send(.error) { response in
                response.error.requestID = 0
                response.error.error = .notAllowedError
                response.error.message = "command \(command.type) is not supported by this broker"
            }
        }
    }

    // MARK: Sending

    private func send(_ type: Pulsar_Proto_BaseCommand.TypeEnum, _ fill: (inout Pulsar_Proto_BaseCommand) -> Void) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        fill(&command)
        self.write(command)
    }

    /// Writes a simple command from any thread.
    private func write(_ command: Pulsar_Proto_BaseCommand) {
        guard let channel = self.channel else { return }
        var buffer = channel.allocator.buffer(capacity: 64)
        do {
            try PulsarFrame.write(command: command, into: &buffer)
        } catch {
            return
        }
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func error(_ requestID: UInt64, _ error: any Error) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .error
        command.error.requestID = requestID
        command.error.error = Self.serverError(error)
        command.error.message = "\(error)"
        self.write(command)
    }

    /// The ServerError a client is sent for `error`: its ``BrokerError/Code``'s, or the
    /// one for what failed underneath.
    static func serverError(_ error: any Error) -> Pulsar_Proto_ServerError {
        BrokerError.code(for: error).serverError
    }

    // MARK: Commands

    private func connect(_ connect: Pulsar_Proto_CommandConnect) {
        self.protocolVersion = min(connect.protocolVersion, 20)
        self.send(.connected) { response in
            response.connected.serverVersion = "Magnetar \(MagnetarVersion.current)"
            response.connected.protocolVersion = self.protocolVersion
            response.connected.maxMessageSize = Int32(self.broker.maxMessageSize)
        }
    }

    private func partitionedMetadata(_ request: Pulsar_Proto_CommandPartitionedTopicMetadata) {
        let broker = self.broker
        Task {
            var command = Pulsar_Proto_BaseCommand()
            command.type = .partitionedMetadataResponse
            command.partitionMetadataResponse.requestID = request.requestID
            do {
                let name = try TopicName(request.topic)
                command.partitionMetadataResponse.partitions = UInt32(try await broker.partitions(of: name))
                command.partitionMetadataResponse.response = .success
            } catch {
                command.partitionMetadataResponse.response = .failed
                command.partitionMetadataResponse.error = Self.serverError(error)
                command.partitionMetadataResponse.message = "\(error)"
            }
            self.write(command)
        }
    }

    private func lookup(_ request: Pulsar_Proto_CommandLookupTopic) {
        self.send(.lookupResponse) { response in
            response.lookupTopicResponse.requestID = request.requestID
            do {
                _ = try TopicName(request.topic)
                response.lookupTopicResponse.response = .connect
                response.lookupTopicResponse.brokerServiceURL = self.broker.serviceURL
                response.lookupTopicResponse.authoritative = true
                response.lookupTopicResponse.proxyThroughServiceURL = false
            } catch {
                response.lookupTopicResponse.response = .failed
                response.lookupTopicResponse.error = Self.serverError(error)
                response.lookupTopicResponse.message = "\(error)"
            }
        }
    }

    /// Registers a producer. A WaitForExclusive producer that has to wait gets a
    /// PRODUCER_SUCCESS with `producer_ready` false now and another, ready, when the topic
    /// lets it in. A producer fenced out by an ExclusiveWithFencing one gets CLOSE_PRODUCER.
    private func producer(_ request: Pulsar_Proto_CommandProducer) {
        let broker = self.broker
        let connection = ObjectIdentifier(self)
        let loop = self.channel!.eventLoop
        let producerID = request.producerID
        @Sendable func success(_ name: String, ready: Bool) {
            var command = Pulsar_Proto_BaseCommand()
            command.type = .producerSuccess
            command.producerSuccess.requestID = request.requestID
            command.producerSuccess.producerName = name
            command.producerSuccess.lastSequenceID = -1
            command.producerSuccess.producerReady = ready
            self.write(command)
        }
        Task {
            do {
                let topic = try await broker.topic(try TopicName(request.topic))
                let named = Mutex<String?>(nil)
                let admission = try await topic.addProducer(
                    name: request.hasProducerName ? request.producerName : nil, accessMode: request.producerAccessMode,
                    connection: connection, producerID: producerID, brokerName: broker.name,
                    fenced: {
                        loop.execute {
                            guard self.producers.removeValue(forKey: producerID) != nil else { return }
                            self.send(.closeProducer) { command in
                                command.closeProducer.producerID = producerID
                                command.closeProducer.requestID = 0
                            }
                        }
                    },
                    granted: { if let name = named.withLock({ $0 }) { success(name, ready: true) } }
                )
                switch admission {
                case .ready(let name):
                    guard try await loop.submit({ self.register(producerID, topic, name) }).get() else { return }
                    success(name, ready: true)
                case .queued(let name):
                    named.withLock { $0 = name }
                    guard try await loop.submit({ self.register(producerID, topic, name) }).get() else { return }
                    success(name, ready: false)
                }
            } catch {
                self.error(request.requestID, error)
            }
        }
    }

    private func publish(_ request: Pulsar_Proto_CommandSend, _ payload: PulsarPayload?) {
        guard let (topic, _) = self.producers[request.producerID], let payload else {
            return self.sendError(request, .notAllowedError, "no producer \(request.producerID) on this connection, or no payload")
        }
        guard payload.checksumValid else {
            return self.sendError(request, .checksumError, "the message failed its checksum")
        }
        topic.ledger.append(StoredEntry.encode(payload, compression: topic.compression)) { result in
            switch result {
            case .success(let position):
                var command = Pulsar_Proto_BaseCommand()
                command.type = .sendReceipt
                command.sendReceipt.producerID = request.producerID
                command.sendReceipt.sequenceID = request.sequenceID
                if request.hasHighestSequenceID { command.sendReceipt.highestSequenceID = request.highestSequenceID }
                command.sendReceipt.messageID.ledgerID = UInt64(bitPattern: position.ledgerID)
                command.sendReceipt.messageID.entryID = UInt64(bitPattern: position.entryID)
                self.write(command)
            case .failure(let error):
                // Nothing sent after this message may be stored before it: the topic closes
                // its producers, and the client resends from here, in order.
                topic.onLoop { $0.close(because: error) }
                self.sendError(request, .persistenceError, "\(error)")
            }
        }
    }

    private func sendError(_ request: Pulsar_Proto_CommandSend, _ error: Pulsar_Proto_ServerError, _ message: String) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .sendError
        command.sendError.producerID = request.producerID
        command.sendError.sequenceID = request.sequenceID
        command.sendError.error = error
        command.sendError.message = message
        self.write(command)
    }

    private func success(_ requestID: UInt64) {
        self.send(.success) { $0.success.requestID = requestID }
    }

    private func closeProducer(_ request: Pulsar_Proto_CommandCloseProducer) {
        if let (topic, name) = self.producers.removeValue(forKey: request.producerID) {
            topic.onLoop { $0.removeProducer(name) }
        }
        self.success(request.requestID)
    }

    private func subscribe(_ request: Pulsar_Proto_CommandSubscribe) {
        let broker = self.broker
        let channel = self.channel!
        Task {
            do {
                let name = try TopicName(request.topic)
                let topic = try await broker.topic(name)
                let consumer = Consumer(
                    consumerID: request.consumerID, name: request.consumerName, priorityLevel: request.priorityLevel,
                    partition: Int32(name.partitionIndex), channel: channel
                )
                var initialPosition = request.initialPosition
                var start: Position?
                if request.hasStartMessageID {
                    let id = request.startMessageID
                    if id.ledgerID == .max {
                        initialPosition = .earliest
                    } else if Int64(bitPattern: id.ledgerID) == .max {
                        initialPosition = .latest
                    } else {
                        start = Position(ledgerID: Int64(bitPattern: id.ledgerID), entryID: Int64(bitPattern: id.entryID))
                    }
                }
                let subscription = try await topic.subscribe(
                    request.subscription, type: request.subType, initialPosition: initialPosition, start: start,
                    durable: !request.hasDurable || request.durable, consumer: consumer
                )
                guard try await channel.eventLoop.submit({ self.register(request.consumerID, topic, subscription, consumer) }).get() else { return }
                self.success(request.requestID)
                topic.onLoop { _ in subscription.announceActiveConsumer() }
            } catch {
                self.error(request.requestID, error)
            }
        }
    }

    private func flow(_ request: Pulsar_Proto_CommandFlow) {
        guard let (topic, subscription, consumer) = self.consumers[request.consumerID] else { return }
        let permits = Int(request.messagePermits)
        topic.onLoop { _ in subscription.flow(consumer, permits: permits) }
    }

    private func ack(_ request: Pulsar_Proto_CommandAck) {
        guard let (topic, subscription, consumer) = self.consumers[request.consumerID] else { return }
        let messages = request.messageID.map {
            AckedMessage(position: Position(ledgerID: Int64(bitPattern: $0.ledgerID), entryID: Int64(bitPattern: $0.entryID)), ackSet: $0.ackSet)
        }
        let cumulative = request.ackType == .cumulative
        let logger = self.broker.logger
        topic.onLoop { _ in
            let refusal = subscription.ack(messages, cumulative: cumulative, from: consumer)
            if let answer = Self.ackAnswer(request, refusal, logger: logger) { self.write(answer) }
        }
    }

    private func redeliver(_ request: Pulsar_Proto_CommandRedeliverUnacknowledgedMessages) {
        guard let (topic, subscription, consumer) = self.consumers[request.consumerID] else { return }
        let positions = request.messageIds.map { Position(ledgerID: Int64(bitPattern: $0.ledgerID), entryID: Int64(bitPattern: $0.entryID)) }
        topic.onLoop { _ in subscription.redeliver(consumer, positions: positions) }
    }

    private func closeConsumer(_ request: Pulsar_Proto_CommandCloseConsumer) {
        if let (topic, subscription, consumer) = self.consumers.removeValue(forKey: request.consumerID) {
            topic.onLoop { $0.consumerLeft(consumer, subscription) }
        }
        self.success(request.requestID)
    }

    private func unsubscribe(_ request: Pulsar_Proto_CommandUnsubscribe) {
        guard let (topic, subscription, consumer) = self.consumers[request.consumerID] else {
            return self.success(request.requestID)
        }
        Task {
            do {
                try await topic.unsubscribe(subscription.name, consumer: consumer)
                self.success(request.requestID)
            } catch {
                self.error(request.requestID, error)
            }
        }
    }

    /// Moves the subscription to a message or a publish time and closes its consumers, each
    /// told on its own connection, so that their clients subscribe again from there.
    private func seek(_ request: Pulsar_Proto_CommandSeek) {
        guard let (topic, subscription, _) = self.consumers[request.consumerID] else {
            return self.error(request.requestID, BrokerError(.notAllowed, "no consumer \(request.consumerID) on this connection"))
        }
        // Its consumers are closed: acks still in flight from them must not move the
        // cursor back past the new position.
        for (id, entry) in self.consumers where entry.subscription === subscription { self.consumers[id] = nil }
        Task {
            do {
                try await topic.seek(subscription, request)
                try? await subscription.cursor.persist()
                self.success(request.requestID)
            } catch {
                self.error(request.requestID, error)
            }
        }
    }

    private func topicsOfNamespace(_ request: Pulsar_Proto_CommandGetTopicsOfNamespace) {
        let broker = self.broker
        Task {
            var command = Pulsar_Proto_BaseCommand()
            command.type = .getTopicsOfNamespaceResponse
            command.getTopicsOfNamespaceResponse.requestID = request.requestID
            let parts = request.namespace.split(separator: "/")
            if parts.count == 2, let topics = try? await broker.topics(tenant: String(parts[0]), namespace: String(parts[1])) {
                command.getTopicsOfNamespaceResponse.topics = topics
                self.write(command)
            } else {
                self.error(request.requestID, BrokerError(.metadata, "cannot list the topics of namespace '\(request.namespace)'"))
            }
        }
    }

    /// The last entry's id with the consumer's mark-delete position. For a batch the id
    /// names its last message (batch_index n-1), so a reader positioned inside that batch
    /// still sees messages available.
    private func lastMessageID(_ request: Pulsar_Proto_CommandGetLastMessageId) {
        guard let (topic, subscription, _) = self.consumers[request.consumerID] else {
            return self.error(request.requestID, BrokerError(.notAllowed, "no consumer \(request.consumerID) on this connection"))
        }
        Task {
            let last = await topic.ledger.lastConfirmed
            let markDelete = await subscription.cursor.markDeletePosition
            var command = Pulsar_Proto_BaseCommand()
            command.type = .getLastMessageIDResponse
            command.getLastMessageIDResponse.requestID = request.requestID
            command.getLastMessageIDResponse.lastMessageID.ledgerID = UInt64(bitPattern: last.ledgerID)
            command.getLastMessageIDResponse.lastMessageID.entryID = UInt64(bitPattern: last.entryID)
            if last.entryID >= 0, let (position, entry) = try? await topic.ledger.read(from: last, count: 1).first, position == last,
                let payload = try? PulsarPayload(parsing: entry), payload.metadata.hasNumMessagesInBatch
            {
                command.getLastMessageIDResponse.lastMessageID.batchIndex = max(0, payload.metadata.numMessagesInBatch - 1)
            }
            command.getLastMessageIDResponse.consumerMarkDeletePosition.ledgerID = UInt64(bitPattern: markDelete.ledgerID)
            command.getLastMessageIDResponse.consumerMarkDeletePosition.entryID = UInt64(bitPattern: markDelete.entryID)
            self.write(command)
        }
    }

    private func consumerStats(_ request: Pulsar_Proto_CommandConsumerStats) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .consumerStatsResponse
        command.consumerStatsResponse.requestID = request.requestID
        guard let (topic, subscription, consumer) = self.consumers[request.consumerID] else {
            command.consumerStatsResponse.errorCode = .consumerNotFound
            command.consumerStatsResponse.errorMessage = "no consumer \(request.consumerID) on this connection"
            return self.write(command)
        }
        topic.onLoop { [command] _ in
            var command = command
            command.consumerStatsResponse.consumerName = consumer.name
            command.consumerStatsResponse.availablePermits = UInt64(max(0, consumer.permits))
            command.consumerStatsResponse.unackedMessages = UInt64(consumer.unackedCount)
            command.consumerStatsResponse.msgBacklog = UInt64(max(0, subscription.cursor.assumeIsolated { $0.backlog }))
            command.consumerStatsResponse.type = ConsumerSet<Consumer>.describe(subscription.type)
            self.write(command)
        }
    }

    /// The transaction requests that share one body shape, with the response type and
    /// field each is answered in.
    private static let transactionAnswers: [Pulsar_Proto_BaseCommand.TypeEnum: (
        request: any KeyPath<Pulsar_Proto_BaseCommand, Pulsar_Proto_CommandTxnRequest> & Sendable,
        type: Pulsar_Proto_BaseCommand.TypeEnum,
        response: any WritableKeyPath<Pulsar_Proto_BaseCommand, Pulsar_Proto_CommandTxnResponse> & Sendable
    )] = [
        .addPartitionToTxn: (\.addPartitionToTxn, .addPartitionToTxnResponse, \.addPartitionToTxnResponse),
        .addSubscriptionToTxn: (\.addSubscriptionToTxn, .addSubscriptionToTxnResponse, \.addSubscriptionToTxnResponse),
        .endTxn: (\.endTxn, .endTxnResponse, \.endTxnResponse),
        .endTxnOnPartition: (\.endTxnOnPartition, .endTxnOnPartitionResponse, \.endTxnOnPartitionResponse),
        .endTxnOnSubscription: (\.endTxnOnSubscription, .endTxnOnSubscriptionResponse, \.endTxnOnSubscriptionResponse),
    ]

    /// Transaction requests get their own response type with TransactionCoordinatorNotFound:
    /// this broker runs no transaction coordinator.
    private func refuseTransaction(_ request: Pulsar_Proto_BaseCommand) {
        let reason = "this broker has no transaction coordinator"
        var command = Pulsar_Proto_BaseCommand()
        var response = Pulsar_Proto_CommandTxnResponse()
        response.error = .transactionCoordinatorNotFound
        response.message = reason
        if let answer = Self.transactionAnswers[request.type] {
            let txn = request[keyPath: answer.request]
            response.requestID = txn.requestID
            response.txnidLeastBits = txn.txnidLeastBits
            response.txnidMostBits = txn.txnidMostBits
            command.type = answer.type
            command[keyPath: answer.response] = response
        } else if request.type == .newTxn {
            response.requestID = request.newTxn.requestID
            command.type = .newTxnResponse
            command.newTxnResponse = response
        } else {
            command.type = .tcClientConnectResponse
            command.tcClientConnectResponse.requestID = request.tcClientConnectRequest.requestID
            command.tcClientConnectResponse.error = .transactionCoordinatorNotFound
            command.tcClientConnectResponse.message = reason
        }
        self.write(command)
    }
}
