import Foundation
import Logging
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// The producer of one topic or partition: a ``ProducerStateMachine`` under a lock, the
/// connection it is registered on, its timers, and its reconnection.
///
/// Frames are written while the lock is held, so batches reach the connection in
/// sequence order whichever task sealed them; completions run after it is released.
final class TopicProducer: ConnectionListener, Sendable {
    typealias Completion = @Sendable (Result<MessageID, PulsarClientError>) -> Void
    typealias Machine = ProducerStateMachine<Completion, ContinuousClock.Instant>

    private struct State {
        var machine: Machine
        var connection: ClientConnection?
        var reconnecting = false
        var closed = false
        var epoch: UInt64 = 0
        var flushTimer: Scheduled<Void>?
        var flushAt: ContinuousClock.Instant?
        var expiryTimer: RepeatedTask?
        /// The topic epoch the broker gave this exclusive producer: sent again when it
        /// reconnects, so that a producer fenced meanwhile stays fenced.
        var topicEpoch: UInt64?
    }

    let client: PulsarClient
    let topic: TopicName
    let partition: Int32
    let producerID: UInt64
    let configuration: ProducerConfiguration
    let permits: AsyncPermits
    private let eventLoop: any EventLoop
    private let state: Mutex<State>

    init(client: PulsarClient, topic: TopicName, partition: Int32, configuration: ProducerConfiguration) {
        self.client = client
        self.topic = topic
        self.partition = partition
        self.producerID = client.nextID()
        self.configuration = configuration
        self.permits = AsyncPermits(configuration.maxPendingMessages)
        self.eventLoop = client.group.next()
        self.state = Mutex(
            State(
                machine: Machine(
                    producerID: self.producerID, producerName: configuration.name ?? "", batching: configuration.batching,
                    compression: configuration.compression
                )
            )
        )
    }

    var name: String { self.state.withLock { $0.machine.producerName } }

    /// Registers the producer for the first time, retrying retriable failures until the
    /// operation timeout.
    func start() async throws(PulsarClientError) {
        let deadline = ContinuousClock.now + self.client.configuration.operationTimeout
        try await self.client.retrying(until: deadline) { () async throws(PulsarClientError) in
            let connection = try await self.client.connection(serving: self.topic)
            try await self.register(on: connection)
        }
        if let timeout = self.configuration.sendTimeout {
            let task = self.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(200)) { _ in
                self.expire(timeout)
            }
            self.state.withLock { $0.expiryTimer = task }
        }
    }

    private func register(on connection: ClientConnection) async throws(PulsarClientError) {
        connection.register(producer: self.producerID, self)
        let (epoch, name, topicEpoch) = self.state.withLock { ($0.epoch, $0.machine.producerName, $0.topicEpoch) }
        let frame: PulsarFrame
        do {
            let timeout = self.configuration.accessMode == .waitForExclusive ? nil : self.client.configuration.operationTimeout
            frame = try await connection.request(timeout: timeout) { requestID in
                var command = Pulsar_Proto_BaseCommand()
                command.type = .producer
                command.producer.topic = self.topic.description
                command.producer.producerID = self.producerID
                command.producer.requestID = requestID
                if !name.isEmpty {
                    command.producer.producerName = name
                    command.producer.userProvidedProducerName = self.configuration.name != nil
                }
                command.producer.epoch = epoch
                command.producer.producerAccessMode = self.configuration.accessMode.wire
                if let topicEpoch { command.producer.topicEpoch = topicEpoch }
                return command
            }
        } catch {
            connection.unregister(producer: self.producerID)
            throw error
        }
        let success = frame.command.producerSuccess
        let actions: Machine.Actions? = self.state.withLock { state in
            guard !state.closed else { return nil }
            state.epoch += 1
            if success.hasTopicEpoch { state.topicEpoch = success.topicEpoch }
            state.connection = connection
            state.reconnecting = false
            let actions = state.machine.connected(producerName: success.producerName, lastSequenceID: success.lastSequenceID)
            for frame in actions.write { connection.write(frame: frame, flush: false) }
            connection.flush()
            return actions
        }
        guard let actions else {
            connection.send(Self.closeCommand(self.producerID, requestID: connection.nextRequestID()))
            connection.unregister(producer: self.producerID)
            throw PulsarClientError(.producerClosed, "the producer was closed")
        }
        self.run(actions)
        if !connection.isActive { self.connectionClosed(connectionID: connection.id, PulsarClientError(.connectionClosed, "closed at registration")) }
    }

    // MARK: Sending

    /// Sends `message`, waiting first for room in the pending queue; `completion` runs
    /// with the message's id once the broker stored it (or with the error).
    func send(_ message: OutgoingMessage, completion: @escaping Completion) async throws(PulsarClientError) {
        try await self.permits.acquire()
        self.enqueueAfterPermit(message, completion: completion)
    }

    /// Sends `message` after a permit was taken.
    func enqueueAfterPermit(_ message: OutgoingMessage, completion: @escaping Completion) {
        let limit = self.state.withLock { $0.connection?.maxMessageSize } ?? PulsarFrame.defaultMaxMessageSize
        // Room for the command and the metadata beside a chunk's bytes.
        let chunkSize = self.configuration.chunking ? max(1024, limit - (8 << 10)) : nil
        if chunkSize == nil, message.payload.readableBytes > limit {
            self.permits.release()
            completion(.failure(PulsarClientError(.messageTooBig, "a message of \(message.payload.readableBytes) bytes is above the broker's limit of \(limit); enable chunking to send it")))
            return
        }
        let now = ContinuousClock.now
        let actions = self.state.withLock { state in
            let actions = state.machine.send(message, completion: completion, now: now, publishTime: Self.wallClockMilliseconds(), chunkSize: chunkSize)
            self.apply(actions, &state)
            return actions
        }
        self.run(actions)
    }

    /// Seals the open batch and waits until everything sent so far is receipted.
    func flush() async throws(PulsarClientError) {
        let result: Result<MessageID, PulsarClientError> = await withCheckedContinuation { continuation in
            let actions = self.state.withLock { state in
                let actions = state.machine.flush(
                    now: .now, publishTime: Self.wallClockMilliseconds(), barrier: { continuation.resume(returning: $0) }
                )
                self.apply(actions, &state)
                return actions
            }
            self.run(actions)
        }
        _ = try result.get()
    }

    /// Writes what the machine asked to write and arms the flush timer; under the lock.
    private func apply(_ actions: Machine.Actions, _ state: inout State) {
        if let connection = state.connection, !actions.write.isEmpty {
            for frame in actions.write { connection.write(frame: frame, flush: false) }
            connection.flush()
        }
        if let deadline = actions.scheduleFlush, state.flushAt.map({ deadline < $0 }) ?? true {
            state.flushTimer?.cancel()
            state.flushAt = deadline
            let delay = ContinuousClock.now.duration(to: deadline)
            state.flushTimer = self.eventLoop.scheduleTask(in: .nanoseconds(max(0, Self.nanoseconds(delay)))) {
                self.flushTimerFired()
            }
        }
    }

    private func flushTimerFired() {
        let actions = self.state.withLock { state in
            state.flushTimer = nil
            state.flushAt = nil
            let actions = state.machine.flushIfDue(now: .now, publishTime: Self.wallClockMilliseconds())
            self.apply(actions, &state)
            return actions
        }
        self.run(actions)
    }

    private func expire(_ timeout: Duration) {
        let actions = self.state.withLock { $0.machine.expire(now: .now, timeout: timeout) }
        self.run(actions)
    }

    /// Runs completions (outside the lock), frees their places in the pending queue, and
    /// reconnects when asked.
    private func run(_ actions: Machine.Actions) {
        for (completion, id) in actions.succeed { completion(.success(id)) }
        for (completion, error) in actions.fail { completion(.failure(error)) }
        self.permits.release(actions.completedMessages)
        if actions.reconnect {
            self.client.logger.info("a receipt did not match the pending queue; reconnecting", metadata: ["topic": "\(self.topic)"])
            self.state.withLock { $0.connection }?.close()
        }
    }

    // MARK: Connection events

    func handle(_ frame: PulsarFrame, connectionID: UInt64) {
        let command = frame.command
        switch command.type {
        case .sendReceipt:
            let receipt = command.sendReceipt
            let id = MessageID(receipt.messageID, partition: self.partition)
            let actions = self.state.withLock { state -> Machine.Actions in
                guard state.connection?.id == connectionID else { return Machine.Actions() }
                return state.machine.receipt(sequenceID: receipt.sequenceID, id: id)
            }
            self.run(actions)
        case .sendError:
            self.client.logger.info(
                "the broker refused a send; reconnecting", metadata: ["topic": "\(self.topic)", "error": "\(command.sendError.message)"]
            )
            self.state.withLock { $0.connection?.id == connectionID ? $0.connection : nil }?.close()
        case .closeProducer:
            self.lost(connectionID: connectionID, unregister: false)
        default:
            break
        }
    }

    func connectionClosed(connectionID: UInt64, _ error: PulsarClientError) {
        self.lost(connectionID: connectionID, unregister: false)
    }

    /// The producer lost its registration on `connectionID`: reconnect in the background.
    private func lost(connectionID: UInt64, unregister: Bool) {
        let start = self.state.withLock { state -> Bool in
            guard !state.closed, !state.reconnecting, let connection = state.connection, connection.id == connectionID else { return false }
            if unregister { connection.unregister(producer: self.producerID) }
            state.connection = nil
            state.reconnecting = true
            state.machine.disconnected()
            return true
        }
        guard start else { return }
        self.client.reconnect(
            self.topic, what: "producer", isClosed: { self.state.withLock { $0.closed } },
            register: { connection throws(PulsarClientError) in try await self.register(on: connection) },
            failed: { error in await self.close(error) }
        )
    }

    /// Closes the producer: pending messages fail with `error`, the broker is told.
    func close(_ error: PulsarClientError = PulsarClientError(.producerClosed, "the producer was closed")) async {
        let (actions, connection): (Machine.Actions, ClientConnection?) = self.state.withLock { state in
            guard !state.closed else { return (Machine.Actions(), nil) }
            state.closed = true
            state.flushTimer?.cancel()
            state.expiryTimer?.cancel()
            defer { state.connection = nil }
            return (state.machine.close(error), state.connection)
        }
        self.permits.fail(error)
        self.run(actions)
        if let connection {
            _ = try? await connection.request(timeout: self.client.configuration.operationTimeout) { requestID in
                Self.closeCommand(self.producerID, requestID: requestID)
            }
            connection.unregister(producer: self.producerID)
        }
    }

    private static func closeCommand(_ producerID: UInt64, requestID: UInt64) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .closeProducer
        command.closeProducer.producerID = producerID
        command.closeProducer.requestID = requestID
        return command
    }

    static func wallClockMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
