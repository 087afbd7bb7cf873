import PulsarProto
import PulsarWire

/// What one Pulsar client connection is doing, as a value: its state, the producers and
/// consumers it registered, and the requests for them still in flight.
///
/// Each event — a command read, a request finished, the channel gone — returns an
/// ``Action`` for the channel handler to run; the machine does no I/O. It is generic over
/// what a producer and a consumer are, so it is tested with plain values.
///
/// - Awaiting CONNECT: only CONNECT is taken; anything else is answered with an error in
///   its own response type and the connection closes, as Pulsar's broker does.
/// - Active: commands go to their producer or consumer; a command naming an id this
///   connection does not hold is answered with an error (or ignored when it has no
///   answer); an unknown command gets an ERROR with its request id and the connection
///   stays.
/// - Closing: the machine closed the connection after a protocol error; what still
///   arrives is dropped.
/// - Closed: the channel is gone; a producer or consumer whose request finishes now is
///   released at once instead of kept (nothing would ever remove it).
///
/// A PRODUCER or SUBSCRIBE is tracked from when it arrives, as Pulsar's broker does: one
/// repeated for an id already registered is answered with success, one repeated while the
/// first is under way is told to retry, and a CLOSE for an id still being created cancels
/// it (the client gave up waiting, and closes what the broker may yet create): once
/// created it is released, not kept. Without this, a consumer created after its client
/// timed out stayed registered, and the client's next SUBSCRIBE on the same connection was
/// refused as ConsumerBusy for as long as the connection lived.
struct PulsarConnectionStateMachine<Producer, Consumer> {
    enum State: Equatable {
        case awaitingConnect
        case active
        case closing
        case closed
    }

    /// What the handler does after an event.
    enum Action {
        case none
        /// Writes a command; flushed at the end of the read.
        case reply(Pulsar_Proto_BaseCommand)
        /// Writes a command, flushes and closes the connection.
        case replyAndClose(Pulsar_Proto_BaseCommand)
        /// Closes the connection: its client stopped answering.
        case close
        /// The socket takes writes again: these consumers are sent what waited.
        case resumeDispatch([Consumer])
        /// Answers CONNECT with CONNECTED at this protocol version.
        case connected(protocolVersion: Int32)
        /// Releases what the connection held: its channel is gone.
        case release(producers: [Producer], consumers: [Consumer])
        case createProducer(Pulsar_Proto_CommandProducer)
        /// Answers a PRODUCER for a producer this connection registered already, with success.
        case producerExists(Producer, Pulsar_Proto_CommandProducer)
        case publish(Producer, Pulsar_Proto_CommandSend, PulsarPayload)
        /// Removes a producer from its topic and answers SUCCESS.
        case closeProducer(Producer, requestID: UInt64)
        case subscribe(Pulsar_Proto_CommandSubscribe)
        case flow(Consumer, permits: Int)
        case ack(Consumer, Pulsar_Proto_CommandAck)
        case redeliver(Consumer, Pulsar_Proto_CommandRedeliverUnacknowledgedMessages)
        /// Removes a consumer from its subscription and answers SUCCESS.
        case closeConsumer(Consumer, requestID: UInt64)
        case unsubscribe(Consumer, requestID: UInt64)
        case seek(Consumer, Pulsar_Proto_CommandSeek)
        case lastMessageID(Consumer, Pulsar_Proto_CommandGetLastMessageId)
        case consumerStats(Consumer, Pulsar_Proto_CommandConsumerStats)
        /// A request about topics that needs no producer or consumer (lookup, partitioned
        /// metadata, the topics of a namespace).
        case topicRequest(Pulsar_Proto_BaseCommand)
    }

    private(set) var state: State = .awaitingConnect
    /// What the numbers in a command may be; a command outside them is refused.
    let limits: CommandLimits
    /// The protocol version agreed at CONNECT: the client's, at most ``maxProtocolVersion``.
    private(set) var protocolVersion: Int32 = 0
    private var producers: [UInt64: Producer] = [:]
    private var consumers: [UInt64: Consumer] = [:]
    /// Ids of producers and consumers being created, each with whether a CLOSE cancelled it.
    private var creatingProducers: [UInt64: Bool] = [:]
    private var creatingConsumers: [UInt64: Bool] = [:]
    /// When the client is PINGed or given up on.
    private var keepAlive = KeepAlive()

    /// What becomes of a producer or consumer its topic admitted.
    enum Admission: Equatable {
        /// Registered: its client is answered with success.
        case registered
        /// Its client closed it while it was being created: the caller releases it and
        /// answers the request with an error.
        case cancelled
        /// The connection is gone: the caller releases it; no one is there to answer.
        case connectionClosed
    }

    init(limits: CommandLimits = CommandLimits()) {
        self.limits = limits
    }

    /// The newest protocol version this broker speaks.
    static var maxProtocolVersion: Int32 { 20 }

    var producerCount: Int { self.producers.count }
    var consumerCount: Int { self.consumers.count }

    func producer(_ id: UInt64) -> Producer? { self.producers[id] }
    func consumer(_ id: UInt64) -> Consumer? { self.consumers[id] }

    // MARK: Events

    /// A command was read.
    mutating func received(_ frame: PulsarFrame) -> Action {
        // Anything read shows the client is there, as a PONG does.
        self.keepAlive.heard()
        let command = frame.command
        switch self.state {
        case .closing, .closed:
            return .none
        case .awaitingConnect:
            guard command.type == .connect else {
                self.state = .closing
                let message = "\(command.typeDescription) before CONNECT"
                return PulsarErrorAnswer.answer(command, .notAllowedError, message).map(Action.replyAndClose)
                    ?? .replyAndClose(PulsarErrorAnswer.error(requestID: 0, .notAllowedError, message))
            }
            self.state = .active
            self.protocolVersion = min(command.connect.protocolVersion, Self.maxProtocolVersion)
            return .connected(protocolVersion: self.protocolVersion)
        case .active:
            return self.activeCommand(frame)
        }
    }

    /// The keep-alive interval passed (``BrokerLimits/keepAliveInterval``): a connection
    /// silent for a whole interval is PINGed, and closed when the next interval passes
    /// with still nothing read, as Pulsar's broker does; a client half gone (its host lost,
    /// a partition) so frees its exclusive producers and subscriptions. A connection that
    /// has not sent CONNECT by the first tick is closed.
    mutating func keepAliveTick() -> Action {
        switch self.state {
        case .closing, .closed: return .none
        case .awaitingConnect:
            self.state = .closing
            return .close
        case .active: break
        }
        switch self.keepAlive.tick() {
        case .nothing: return .none
        case .ping: return .reply(KeepAlive.ping)
        case .giveUp:
            self.state = .closing
            return .close
        }
    }

    /// The channel's writability changed (its send buffer passed a water mark).
    /// Dispatch skips a consumer whose connection is not writable; once it is again, its
    /// consumers are sent what waited.
    func writabilityChanged(_ writable: Bool) -> Action {
        guard writable, self.state == .active, !self.consumers.isEmpty else { return .none }
        return .resumeDispatch(Array(self.consumers.values))
    }

    /// A frame could not be decoded: the stream cannot be trusted past it. The request
    /// is answered when its type and id could be read from what was decoded.
    mutating func decodingFailed(_ error: PulsarWireError) -> Action {
        guard self.state == .active || self.state == .awaitingConnect else { return .none }
        self.state = .closing
        let message = error.message
        if let partial = error.partialCommand, let answer = PulsarErrorAnswer.answer(partial, .unknownError, message) {
            return .replyAndClose(answer)
        }
        return .replyAndClose(PulsarErrorAnswer.error(requestID: 0, .unknownError, message))
    }

    /// The channel closed: what it held is released.
    mutating func channelClosed() -> Action {
        guard self.state != .closed else { return .none }
        self.state = .closed
        defer {
            self.producers.removeAll()
            self.consumers.removeAll()
            self.creatingProducers.removeAll()
            self.creatingConsumers.removeAll()
        }
        return .release(producers: Array(self.producers.values), consumers: Array(self.consumers.values))
    }

    /// A producer's topic admitted it.
    mutating func producerCreated(_ id: UInt64, _ producer: Producer) -> Admission {
        let cancelled = self.creatingProducers.removeValue(forKey: id) ?? false
        guard self.state == .active else { return .connectionClosed }
        guard !cancelled else { return .cancelled }
        self.producers[id] = producer
        return .registered
    }

    /// A consumer's subscription admitted it; as ``producerCreated(_:_:)``.
    mutating func consumerCreated(_ id: UInt64, _ consumer: Consumer) -> Admission {
        let cancelled = self.creatingConsumers.removeValue(forKey: id) ?? false
        guard self.state == .active else { return .connectionClosed }
        guard !cancelled else { return .cancelled }
        self.consumers[id] = consumer
        return .registered
    }

    /// A PRODUCER failed (it was answered with its error).
    mutating func producerFailed(_ id: UInt64) {
        self.creatingProducers[id] = nil
    }

    /// A SUBSCRIBE failed (it was answered with its error).
    mutating func consumerFailed(_ id: UInt64) {
        self.creatingConsumers[id] = nil
    }

    /// The broker closed a producer (fenced out, or its topic closed): it is forgotten,
    /// and the client is to be told (CLOSE_PRODUCER) when it was still registered.
    mutating func producerClosedByBroker(_ id: UInt64, where matches: (Producer) -> Bool) -> Bool {
        guard let producer = self.producers[id], matches(producer) else { return false }
        self.producers[id] = nil
        return self.state == .active
    }

    /// The broker closed a consumer (its topic closed, or a seek); as
    /// ``producerClosedByBroker(_:where:)``.
    mutating func consumerClosedByBroker(_ id: UInt64, where matches: (Consumer) -> Bool) -> Bool {
        guard let consumer = self.consumers[id], matches(consumer) else { return false }
        self.consumers[id] = nil
        return self.state == .active
    }

    // MARK: Commands of an active connection

    private mutating func activeCommand(_ frame: PulsarFrame) -> Action {
        let command = frame.command
        switch command.type {
        case .connect:
            return .reply(PulsarErrorAnswer.error(requestID: 0, .notAllowedError, "the connection is already connected"))
        case .ping:
            var pong = Pulsar_Proto_BaseCommand()
            pong.type = .pong
            pong.pong = Pulsar_Proto_CommandPong()
            return .reply(pong)
        case .pong:
            return .none
        case .lookup, .partitionedMetadata, .getTopicsOfNamespace:
            return .topicRequest(command)
        case .producer:
            let request = command.producer
            if let producer = self.producers[request.producerID] { return .producerExists(producer, request) }
            guard self.creatingProducers[request.producerID] == nil else {
                return .reply(Self.beingCreated(request.requestID, "producer \(request.producerID)"))
            }
            if request.hasTopicEpoch, request.topicEpoch > UInt64(Int64.max) {
                return .reply(PulsarErrorAnswer.error(requestID: request.requestID, .notAllowedError, "topic epochs are 0 to \(Int64.max)"))
            }
            self.creatingProducers[request.producerID] = false
            return .createProducer(request)
        case .send:
            let send = command.send
            guard let producer = self.producers[send.producerID] else {
                return .reply(PulsarErrorAnswer.sendError(send, .notAllowedError, "no producer \(send.producerID) on this connection"))
            }
            guard let payload = frame.payload else {
                return .reply(PulsarErrorAnswer.sendError(send, .notAllowedError, "a SEND without a message"))
            }
            guard payload.checksumValid else {
                return .reply(PulsarErrorAnswer.sendError(send, .checksumError, "the message failed its checksum"))
            }
            if let refusal = self.limits.refusal(send, payload) {
                return .reply(PulsarErrorAnswer.sendError(send, .notAllowedError, refusal))
            }
            return .publish(producer, send, payload)
        case .closeProducer:
            let request = command.closeProducer
            guard let producer = self.producers.removeValue(forKey: request.producerID) else {
                if self.creatingProducers[request.producerID] != nil { self.creatingProducers[request.producerID] = true }
                return .reply(PulsarErrorAnswer.success(request.requestID))
            }
            return .closeProducer(producer, requestID: request.requestID)
        case .subscribe:
            let request = command.subscribe
            if self.consumers[request.consumerID] != nil { return .reply(PulsarErrorAnswer.success(request.requestID)) }
            guard self.creatingConsumers[request.consumerID] == nil else {
                return .reply(Self.beingCreated(request.requestID, "consumer \(request.consumerID)"))
            }
            if let refusal = PulsarName.refusal(request.subscription, kind: "subscription") {
                return .reply(PulsarErrorAnswer.error(requestID: request.requestID, .notAllowedError, refusal))
            }
            if request.hasStartMessageID, let refusal = request.startMessageID.refusalAsTarget(self.limits) {
                return .reply(PulsarErrorAnswer.error(requestID: request.requestID, .notAllowedError, "start message id: \(refusal)"))
            }
            self.creatingConsumers[request.consumerID] = false
            return .subscribe(request)
        case .flow:
            guard let consumer = self.consumers[command.flow.consumerID] else { return .none }
            return .flow(consumer, permits: Int(command.flow.messagePermits))
        case .ack:
            guard let consumer = self.consumers[command.ack.consumerID] else {
                return PulsarErrorAnswer.answer(command, .consumerNotFound, "no consumer \(command.ack.consumerID) on this connection")
                    .map(Action.reply) ?? .none
            }
            if let refusal = Self.refusal(acking: command.ack.messageID, self.limits) {
                return PulsarErrorAnswer.answer(command, .notAllowedError, refusal).map(Action.reply) ?? .none
            }
            return .ack(consumer, command.ack)
        case .redeliverUnacknowledgedMessages:
            guard let consumer = self.consumers[command.redeliverUnacknowledgedMessages.consumerID],
                Self.refusal(acking: command.redeliverUnacknowledgedMessages.messageIds, self.limits) == nil
            else { return .none }
            return .redeliver(consumer, command.redeliverUnacknowledgedMessages)
        case .closeConsumer:
            let request = command.closeConsumer
            guard let consumer = self.consumers.removeValue(forKey: request.consumerID) else {
                if self.creatingConsumers[request.consumerID] != nil { self.creatingConsumers[request.consumerID] = true }
                return .reply(PulsarErrorAnswer.success(request.requestID))
            }
            return .closeConsumer(consumer, requestID: request.requestID)
        case .unsubscribe:
            let request = command.unsubscribe
            guard let consumer = self.consumers[request.consumerID] else {
                return .reply(PulsarErrorAnswer.success(request.requestID))
            }
            return .unsubscribe(consumer, requestID: request.requestID)
        case .seek:
            guard let consumer = self.consumers[command.seek.consumerID] else { return self.noConsumer(command, command.seek.consumerID) }
            if !command.seek.hasMessagePublishTime, let refusal = command.seek.messageID.refusalAsTarget(self.limits) {
                return .reply(PulsarErrorAnswer.error(requestID: command.seek.requestID, .notAllowedError, refusal))
            }
            return .seek(consumer, command.seek)
        case .getLastMessageID:
            let request = command.getLastMessageID
            guard let consumer = self.consumers[request.consumerID] else { return self.noConsumer(command, request.consumerID) }
            return .lastMessageID(consumer, request)
        case .consumerStats:
            let request = command.consumerStats
            guard let consumer = self.consumers[request.consumerID] else { return self.noConsumer(command, request.consumerID) }
            return .consumerStats(consumer, request)
        case .getSchema:
            return .reply(PulsarErrorAnswer.answer(command, .topicNotFound, "no schema is stored for \(command.getSchema.topic)")!)
        case .getOrCreateSchema:
            return .reply(PulsarErrorAnswer.answer(command, .notAllowedError, "this broker does not store schemas")!)
        case .newTxn, .addPartitionToTxn, .addSubscriptionToTxn, .endTxn, .endTxnOnPartition, .endTxnOnSubscription,
            .tcClientConnectRequest:
            return .reply(PulsarErrorAnswer.answer(command, .transactionCoordinatorNotFound, "this broker has no transaction coordinator")!)
        default:
            let message = "command \(command.typeDescription) is not supported by this broker"
            return .reply(PulsarErrorAnswer.answer(command, .notAllowedError, message) ?? PulsarErrorAnswer.error(requestID: 0, .notAllowedError, message))
        }
    }

    /// The answer to a second request for an id whose first is under way.
    private static func beingCreated(_ requestID: UInt64, _ what: String) -> Pulsar_Proto_BaseCommand {
        PulsarErrorAnswer.error(requestID: requestID, .serviceNotReady, "\(what) is already being created on this connection; retry")
    }

    /// Why the message ids of an ACK or a REDELIVER cannot be taken, or nil.
    private static func refusal(acking ids: [Pulsar_Proto_MessageIdData], _ limits: CommandLimits) -> String? {
        if ids.count > CommandLimits.maxMessageIDsPerCommand {
            return "\(ids.count) message ids in one command (at most \(CommandLimits.maxMessageIDsPerCommand))"
        }
        return ids.lazy.compactMap { $0.refusalAsAcked(limits) }.first
    }

    private func noConsumer(_ command: Pulsar_Proto_BaseCommand, _ id: UInt64) -> Action {
        PulsarErrorAnswer.answer(command, .consumerNotFound, "no consumer \(id) on this connection").map(Action.reply) ?? .none
    }
}
