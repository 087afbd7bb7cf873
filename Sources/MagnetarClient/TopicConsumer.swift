import Logging
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// The consumer of one topic or partition: its subscription on one connection, flow
/// permits, acknowledgments, redelivery timers and reconnection. Messages go to the
/// ``ReceiverQueue`` its ``Consumer`` shares among its topics.
final class TopicConsumer: ConnectionListener, Sendable {
    private struct State {
        var connection: ClientConnection?
        var reconnecting = false
        var closed = false
        var permits: FlowPermits
        var acks = BatchAckTracker()
        var redelivery: RedeliveryTracker<ContinuousClock.Instant>
        /// Individual acks waiting to be sent, one per entry: a later ack of a batch
        /// message replaces the earlier one, as its ack_set says everything acked so far.
        var pendingAcks: [MessageID: Pulsar_Proto_MessageIdData] = [:]
        var ackTimer: Scheduled<Void>?
        var start: StartPosition?
        var lastTaken: MessageID?
        var chunks = ChunkAssembler()
    }

    let client: PulsarClient
    let topic: TopicName
    let partition: Int32
    let index: Int
    let subscription: String
    let configuration: ConsumerConfiguration
    /// False for readers: the broker keeps no cursor.
    let durable: Bool
    let consumerID: UInt64
    private let queue: ReceiverQueue
    /// Told when the consumer cannot subscribe again for good (after it closed).
    private let failed: @Sendable (TopicConsumer, PulsarClientError) async -> Void
    private let eventLoop: any EventLoop
    private let state: Mutex<State>
    private let redeliveryTimer = Mutex<RepeatedTask?>(nil)

    init(
        client: PulsarClient, topic: TopicName, partition: Int32, index: Int, subscription: String, configuration: ConsumerConfiguration,
        durable: Bool, start: StartPosition?, queue: ReceiverQueue, failed: @escaping @Sendable (TopicConsumer, PulsarClientError) async -> Void
    ) {
        self.failed = failed
        self.client = client
        self.topic = topic
        self.partition = partition
        self.index = index
        self.subscription = subscription
        self.configuration = configuration
        self.durable = durable
        self.consumerID = client.nextID()
        self.queue = queue
        self.eventLoop = client.group.next()
        self.state = Mutex(
            State(
                permits: FlowPermits(queueSize: configuration.receiverQueueSize),
                redelivery: RedeliveryTracker(nackDelay: configuration.negativeAckRedeliveryDelay, ackTimeout: configuration.ackTimeout),
                start: start
            )
        )
    }

    /// Subscribes for the first time, retrying retriable failures until the operation timeout.
    func start() async throws(PulsarClientError) {
        let deadline = ContinuousClock.now + self.client.configuration.operationTimeout
        try await self.client.retrying(until: deadline) { () async throws(PulsarClientError) in
            let connection = try await self.client.connection(serving: self.topic)
            try await self.register(on: connection)
        }
        let tick = max(Duration.milliseconds(20), min(self.configuration.negativeAckRedeliveryDelay, self.configuration.ackTimeout ?? .seconds(1)) / 4)
        let task = self.eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(TopicProducer.nanoseconds(tick)), delay: .nanoseconds(TopicProducer.nanoseconds(tick))) { _ in
            self.redeliverDue()
        }
        self.redeliveryTimer.withLock { $0 = task }
    }

    private func register(on connection: ClientConnection) async throws(PulsarClientError) {
        self.queue.removeAll(from: self.index)
        let start: StartPosition? = self.state.withLock { state in
            state.acks.reset()
            state.chunks = ChunkAssembler()
            state.redelivery.reset()
            if let last = state.lastTaken, !self.durable {
                state.start = StartPosition(id: last, inclusive: false, publishedAtOrAfter: state.start?.publishedAtOrAfter)
            }
            return state.start
        }
        connection.register(consumer: self.consumerID, self)
        do {
            _ = try await connection.request(timeout: self.client.configuration.operationTimeout) { requestID in
                var command = Pulsar_Proto_BaseCommand()
                command.type = .subscribe
                command.subscribe.topic = self.topic.description
                command.subscribe.subscription = self.subscription
                command.subscribe.subType = self.configuration.subscriptionType.wire
                command.subscribe.consumerID = self.consumerID
                command.subscribe.requestID = requestID
                command.subscribe.consumerName = self.configuration.consumerName ?? "consumer-\(self.consumerID)"
                command.subscribe.priorityLevel = self.configuration.priorityLevel
                command.subscribe.durable = self.durable
                command.subscribe.initialPosition = self.configuration.initialPosition == .earliest ? .earliest : .latest
                if let start { command.subscribe.startMessageID = start.subscribeID.wire }
                if self.configuration.subscriptionType == .keyShared {
                    var meta = Pulsar_Proto_KeySharedMeta()
                    meta.keySharedMode = .autoSplit
                    command.subscribe.keySharedMeta = meta
                }
                return command
            }
        } catch {
            connection.unregister(consumer: self.consumerID)
            throw error
        }
        let permits: Int? = self.state.withLock { state in
            guard !state.closed else { return nil }
            state.connection = connection
            state.reconnecting = false
            return state.permits.initial()
        }
        guard let permits else {
            connection.send(self.closeCommand(requestID: connection.nextRequestID()))
            connection.unregister(consumer: self.consumerID)
            throw PulsarClientError(.consumerClosed, "the consumer was closed")
        }
        connection.send(self.flowCommand(permits))
        if !connection.isActive { self.lost(connectionID: connection.id) }
    }

    // MARK: Messages

    func handle(_ frame: PulsarFrame, connectionID: UInt64) {
        let command = frame.command
        switch command.type {
        case .message:
            self.received(frame, connectionID: connectionID)
        case .closeConsumer:
            self.lost(connectionID: connectionID)
        case .reachedEndOfTopic:
            self.client.logger.info("the topic was terminated", metadata: ["topic": "\(self.topic)"])
        default:
            break
        }
    }

    private func received(_ frame: PulsarFrame, connectionID: UInt64) {
        let command = frame.command.message
        guard var payload = frame.payload else { return }
        let id = MessageID(command.messageID, partition: self.partition)
        let (current, start) = self.state.withLock { ($0.connection?.id == connectionID, $0.start) }
        guard current else { return }
        var messages: [Message]
        var chunks: [MessageID] = []
        if payload.metadata.hasNumChunksFromMsg, payload.metadata.numChunksFromMsg > 1, payload.checksumValid {
            // A chunk: gathered until its message is whole; each chunk but the last frees its permit now.
            let metadata = payload.metadata
            let (assembled, _) = self.state.withLock { state in
                state.chunks.add(
                    uuid: metadata.uuid, index: metadata.chunkID, count: metadata.numChunksFromMsg, totalSize: Int(metadata.totalChunkMsgSize),
                    bytes: payload.payload, id: id
                )
            }
            guard let assembled else {
                self.freePermits(1)
                return
            }
            var whole = metadata
            whole.clearUuid()
            whole.clearNumChunksFromMsg()
            whole.clearTotalChunkMsgSize()
            whole.clearChunkID()
            payload = PulsarPayload(metadata: whole, payload: assembled.payload, metadataAndPayload: assembled.payload, checksum: nil, checksumValid: true)
            chunks = assembled.chunks
        }
        let entryCount = payload.metadata.hasNumMessagesInBatch ? Int(payload.metadata.numMessagesInBatch) : 1
        do {
            messages = try EntryDecoding.messages(
                payload, id: id, topic: self.topic.description, redeliveryCount: command.redeliveryCount, ackSet: command.ackSet
            )
            if !chunks.isEmpty { for index in messages.indices { messages[index].chunks = chunks } }
        } catch {
            self.client.logger.info("dropping an entry that cannot be read", metadata: ["topic": "\(self.topic)", "error": "\(error)"])
            self.discard(id, count: entryCount)
            return
        }
        if let start { messages.removeAll { start.skips($0.id, publishTime: $0.publishTime) } }
        let dropped = entryCount - messages.count
        if dropped > 0 { self.freePermits(dropped) }
        self.queue.push(messages.map { ReceiverQueue.Delivery(message: $0, source: self.index) })
    }

    /// Acknowledges an entry that could not be decoded, so that it is not redelivered forever.
    private func discard(_ id: MessageID, count: Int) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .ack
        command.ack.consumerID = self.consumerID
        command.ack.ackType = .individual
        command.ack.messageID = [id.entry.wire]
        command.ack.validationError = .batchDeSerializeError
        self.state.withLock { $0.connection }?.send(command)
        self.freePermits(count)
    }

    private func freePermits(_ count: Int) {
        let (connection, permits) = self.state.withLock { ($0.connection, $0.permits.taken(count)) }
        if let connection, let permits { connection.send(self.flowCommand(permits)) }
    }

    /// The application took `message` from the queue.
    func taken(_ message: Message) {
        let now = ContinuousClock.now
        let (connection, permits) = self.state.withLock { state in
            state.lastTaken = message.id
            state.redelivery.received(message.id, now: now)
            return (state.connection, state.permits.taken(1))
        }
        if let connection, let permits { connection.send(self.flowCommand(permits)) }
    }

    // MARK: Acknowledgments

    func acknowledge(_ id: MessageID) {
        let (flushNow, connection): (Bool, ClientConnection?) = self.state.withLock { state in
            let ack = state.acks.acknowledge(id)
            if ack.ackSet == nil { state.redelivery.acknowledged(entry: ack.entry) }
            var wire = ack.entry.wire
            if let ackSet = ack.ackSet { wire.ackSet = ackSet }
            state.pendingAcks[ack.entry] = wire
            if self.configuration.ackGroupingTime <= .zero || state.pendingAcks.count >= 1000 { return (true, state.connection) }
            if state.ackTimer == nil {
                state.ackTimer = self.eventLoop.scheduleTask(in: .nanoseconds(TopicProducer.nanoseconds(self.configuration.ackGroupingTime))) {
                    self.flushAcks()
                }
            }
            return (false, nil)
        }
        if flushNow, connection != nil { self.flushAcks() }
    }

    /// Sends the grouped individual acks in one ACK.
    func flushAcks() {
        let (ids, connection) = self.state.withLock { state in
            state.ackTimer?.cancel()
            state.ackTimer = nil
            defer { state.pendingAcks.removeAll(keepingCapacity: true) }
            return (Array(state.pendingAcks.values), state.connection)
        }
        guard !ids.isEmpty, let connection else { return }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .ack
        command.ack.consumerID = self.consumerID
        command.ack.ackType = .individual
        command.ack.messageID = ids
        connection.send(command)
    }

    func acknowledgeCumulative(_ id: MessageID) {
        self.flushAcks()
        let (ack, connection) = self.state.withLock { state in
            let ack = state.acks.acknowledgeCumulative(id)
            state.redelivery.acknowledgedCumulative(upTo: ack.ackSet == nil ? ack.entry : MessageID(ledgerID: ack.entry.ledgerID, entryID: ack.entry.entryID - 1))
            return (ack, state.connection)
        }
        guard let connection else { return }
        var wire = ack.entry.wire
        if let ackSet = ack.ackSet { wire.ackSet = ackSet }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .ack
        command.ack.consumerID = self.consumerID
        command.ack.ackType = .cumulative
        command.ack.messageID = [wire]
        connection.send(command)
    }

    func negativeAcknowledge(_ id: MessageID) {
        let now = ContinuousClock.now
        self.state.withLock { $0.redelivery.negativelyAcknowledged(id, now: now) }
    }

    private func redeliverDue() {
        let now = ContinuousClock.now
        let (due, connection) = self.state.withLock { ($0.redelivery.due(now: now), $0.connection) }
        guard !due.isEmpty, let connection else { return }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .redeliverUnacknowledgedMessages
        command.redeliverUnacknowledgedMessages.consumerID = self.consumerID
        command.redeliverUnacknowledgedMessages.messageIds = due.map(\.wire)
        connection.send(command)
    }

    // MARK: Connection events

    func connectionClosed(connectionID: UInt64, _ error: PulsarClientError) {
        self.lost(connectionID: connectionID)
    }

    private func lost(connectionID: UInt64) {
        let start = self.state.withLock { state -> Bool in
            guard !state.closed, !state.reconnecting, let connection = state.connection, connection.id == connectionID else { return false }
            state.connection = nil
            state.reconnecting = true
            state.ackTimer?.cancel()
            state.ackTimer = nil
            state.pendingAcks.removeAll()
            return true
        }
        guard start else { return }
        self.client.reconnect(
            self.topic, what: "consumer", isClosed: { self.state.withLock { $0.closed } },
            register: { connection throws(PulsarClientError) in try await self.register(on: connection) },
            failed: { error in
                await self.close()
                await self.failed(self, error)
            }
        )
    }

    var connection: ClientConnection? { self.state.withLock { $0.connection } }

    /// Sends a request for this consumer on its current connection.
    func request(_ make: (UInt64) -> Pulsar_Proto_BaseCommand) async throws(PulsarClientError) -> PulsarFrame {
        guard let connection = self.connection else {
            throw PulsarClientError(.connectionClosed, "the consumer of \(self.topic) is reconnecting")
        }
        return try await connection.request(timeout: self.client.configuration.operationTimeout, make)
    }

    func closeCommand(requestID: UInt64) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .closeConsumer
        command.closeConsumer.consumerID = self.consumerID
        command.closeConsumer.requestID = requestID
        return command
    }

    func flowCommand(_ permits: Int) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .flow
        command.flow.consumerID = self.consumerID
        command.flow.messagePermits = UInt32(clamping: permits)
        return command
    }

    /// Sets where a reader restarts after its next resubscription (a seek).
    func restart(at start: StartPosition) {
        self.state.withLock { state in
            state.start = start
            state.lastTaken = nil
        }
        self.queue.removeAll(from: self.index)
    }

    /// The last message id `take` handed out, and the start position.
    var progress: (lastTaken: MessageID?, start: StartPosition?) { self.state.withLock { ($0.lastTaken, $0.start) } }

    func close() async {
        self.flushAcks()
        let connection: ClientConnection? = self.state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            state.ackTimer?.cancel()
            defer { state.connection = nil }
            return state.connection
        }
        self.redeliveryTimer.withLock { $0?.cancel() }
        if let connection {
            _ = try? await connection.request(timeout: self.client.configuration.operationTimeout) { self.closeCommand(requestID: $0) }
            connection.unregister(consumer: self.consumerID)
        }
    }
}
