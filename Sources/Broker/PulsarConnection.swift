import Logging
import MagnetarVersion
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// One client connection speaking Pulsar's binary protocol: a thin channel handler over
/// a ``PulsarConnectionStateMachine``.
///
/// Each frame read goes to the machine and the action it returns is run: a reply is
/// queued in the ``Outbox`` (flushed once when the read completes), a per-message command
/// (SEND, FLOW, ACK) goes straight to its topic, and a request that needs the metadata
/// store or storage becomes a task of the connection's own task group (``run()``), which
/// ends — cancelling what is still running — when the channel closes.
///
/// The connection is also the sink of its producers and consumers: topics send it their
/// messages and notices, and it frames them.
final class PulsarConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = PulsarFrame
    typealias Request = @Sendable () async -> Void
    typealias Machine = PulsarConnectionStateMachine<Producer, any ConsumerHandle>

    let broker: BrokerContext
    let channel: any Channel
    let eventLoop: any EventLoop
    let outbox: Outbox
    /// Confined to ``eventLoop``.
    var machine: Machine
    /// The keep-alive ticks, while the channel is open; confined to ``eventLoop``.
    private var keepAlive: RepeatedTask?
    /// SENDs not receipted yet; past its limits the connection stops reading.
    let publishWindow: PublishWindow
    private let requests: AsyncStream<Request>
    private let requestContinuation: AsyncStream<Request>.Continuation

    init(broker: BrokerContext, channel: any Channel) {
        self.broker = broker
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.outbox = Outbox(channel: channel)
        self.machine = Machine(limits: CommandLimits(maxMessageSize: broker.maxMessageSize))
        self.publishWindow = PublishWindow(maxPending: broker.limits.maxPendingPublishRequestsPerConnection, buffer: broker.publishBuffer)
        (self.requests, self.requestContinuation) = AsyncStream.makeStream()
        self.outbox.relieved = { [weak self] in self?.resumeDispatch() }
    }

    /// Runs the connection's requests until its channel closes; then cancels those still
    /// running and returns once they have ended. Cancelled, it closes the channel.
    func run() async {
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await request in self.requests {
                    group.addTask { await request() }
                }
                group.cancelAll()
            }
        } onCancel: {
            self.channel.close(promise: nil)
        }
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.perform(self.machine.received(Self.unwrapInboundIn(data)), context: context)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startKeepAlive(context: context)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.startKeepAlive(context: context) }
    }

    /// Ticks the machine's keep-alive every interval while the channel is open.
    private func startKeepAlive(context: ChannelHandlerContext) {
        guard self.keepAlive == nil else { return }
        let interval = TimeAmount.nanoseconds(Int64(clamping: self.broker.limits.keepAliveInterval.components.seconds) * 1_000_000_000)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.keepAlive = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            guard let self else { return }
            self.perform(self.machine.keepAliveTick(), context: bound.value)
            self.outbox.drain()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.outbox.drain()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.perform(self.machine.writabilityChanged(context.channel.isWritable), context: context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.keepAlive?.cancel()
        self.keepAlive = nil
        self.perform(self.machine.channelClosed(), context: context)
        self.requestContinuation.finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.keepAlive?.cancel()
        self.keepAlive = nil
        self.requestContinuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let action: Machine.Action
        if let error = error as? PulsarWireError {
            action = self.machine.decodingFailed(error)
        } else {
            action = .none
            context.close(promise: nil)
        }
        self.perform(action, context: context)
    }

    // MARK: Actions

    private func perform(_ action: Machine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .reply(let command):
            self.outbox.enqueue(command)
        case .replyAndClose(let command):
            self.outbox.enqueue(command)
            self.outbox.drain()
            context.close(promise: nil)
        case .close:
            self.outbox.drain()
            context.close(promise: nil)
        case .resumeDispatch(let consumers):
            // Permits of 0: each subscription sends what it held back while the socket was full.
            for consumer in consumers { consumer.flow(permits: 0) }
        case .connected(let version):
            var command = Pulsar_Proto_BaseCommand()
            command.type = .connected
            command.connected.serverVersion = "Magnetar \(MagnetarVersion.current)"
            command.connected.protocolVersion = version
            command.connected.maxMessageSize = Int32(self.broker.maxMessageSize)
            self.outbox.enqueue(command)
        case .release(let producers, let consumers):
            for producer in producers { producer.topic.release(producer) }
            for consumer in consumers { consumer.release() }
        case .publish(let producer, let request, let payload):
            self.publish(producer, request, payload)
        case .closeProducer(let producer, let requestID):
            producer.topic.release(producer)
            self.outbox.enqueue(PulsarErrorAnswer.success(requestID))
        case .flow(let consumer, let permits):
            consumer.flow(permits: permits)
        case .ack(let consumer, let request):
            self.ack(consumer, request)
        case .redeliver(let consumer, let request):
            let positions = request.messageIds.compactMap(\.entryPosition)
            consumer.redeliver(positions)
        case .closeConsumer(let consumer, let requestID):
            consumer.release()
            self.outbox.enqueue(PulsarErrorAnswer.success(requestID))
        case .createProducer(let request):
            self.start { await self.createProducer(request) }
        case .producerExists(let producer, let request):
            self.start { await self.answerExistingProducer(producer, request) }
        case .subscribe(let request):
            self.start { await self.subscribe(request) }
        case .unsubscribe(let consumer, let requestID):
            self.start { await self.unsubscribe(consumer, requestID: requestID) }
        case .seek(let consumer, let request):
            self.start { await self.seek(consumer, request) }
        case .lastMessageID(let consumer, let request):
            self.start { await self.lastMessageID(consumer, request) }
        case .consumerStats(let consumer, let request):
            self.start { await self.consumerStats(consumer, request) }
        case .topicRequest(let command):
            self.start { await self.topicRequest(command) }
        }
    }

    /// Runs `request` in the connection's task group.
    func start(_ request: @escaping Request) {
        self.requestContinuation.yield(request)
    }

    /// Queues `command` and has it flushed soon; from any thread.
    func send(_ command: Pulsar_Proto_BaseCommand) {
        self.outbox.enqueue(command)
        self.outbox.flush()
    }

    /// Has the consumers sent what waited for room in the outbox; on the channel's loop.
    private func resumeDispatch() {
        if case .resumeDispatch(let consumers) = self.machine.writabilityChanged(true) {
            for consumer in consumers { consumer.flow(permits: 0) }
        }
    }

    /// Reads again after the publish window paused reading; from any thread.
    private func resumeReading() {
        let channel = self.channel
        channel.eventLoop.execute {
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            channel.read()
        }
    }

    /// Whether the client takes more messages now: its socket is writable and the outbox
    /// holds less than ``Outbox/limit``. Dispatch skips a consumer whose connection does
    /// not; writability coming back (or the outbox draining) resumes it.
    var isReady: Bool { self.channel.isWritable && !self.outbox.isFull }

    /// ERROR for the request `requestID`, with the ServerError for `error`.
    func fail(requestID: UInt64, _ error: any Error) {
        self.send(PulsarErrorAnswer.error(requestID: requestID, BrokerError.code(for: error).serverError, "\(error)"))
    }

    /// The answer to a refused request, in its own response type.
    func fail(_ request: Pulsar_Proto_BaseCommand, _ error: any Error) {
        let message = (error as? BrokerError)?.description ?? "\(error)"
        if let answer = PulsarErrorAnswer.answer(request, BrokerError.code(for: error).serverError, message) { self.send(answer) }
    }

    // MARK: Per-message commands

    private func publish(_ producer: Producer, _ request: Pulsar_Proto_CommandSend, _ payload: PulsarPayload) {
        let low = Int64(bitPattern: request.sequenceID)
        let high = request.hasHighestSequenceID ? max(low, Int64(bitPattern: request.highestSequenceID)) : low
        let bytes = payload.metadataAndPayload.readableBytes
        if self.publishWindow.admitted(bytes: bytes) { self.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
        producer.topic.publish(producer, payload, sequenceIDs: low...high) { result in
            if self.publishWindow.completed(bytes: bytes) { self.resumeReading() }
            switch result {
            case .success(let position):
                var command = Pulsar_Proto_BaseCommand()
                command.type = .sendReceipt
                command.sendReceipt.producerID = request.producerID
                command.sendReceipt.sequenceID = request.sequenceID
                if request.hasHighestSequenceID { command.sendReceipt.highestSequenceID = request.highestSequenceID }
                command.sendReceipt.messageID.ledgerID = UInt64(bitPattern: position.ledgerID)
                command.sendReceipt.messageID.entryID = UInt64(bitPattern: position.entryID)
                self.send(command)
            case .failure(let error) where error.code == .withheld:
                break
            case .failure(let error):
                self.send(PulsarErrorAnswer.sendError(request, error.code.serverError, error.message))
            }
        }
    }

    private func ack(_ consumer: any ConsumerHandle, _ request: Pulsar_Proto_CommandAck) {
        let messages = request.messageID.compactMap { id in id.entryPosition.map { AckedMessage(position: $0, ackSet: id.ackSet) } }
        let logger = self.broker.logger
        if request.hasValidationError {
            // The client could not read what it was sent (a checksum or decompression
            // failure) and acknowledges it so as not to get it again, as Pulsar lets it.
            logger.warning(
                "a consumer discarded a message it could not read",
                metadata: ["consumer": "\(request.consumerID)", "error": "\(request.validationError)", "messages": "\(messages.map(\.position))"]
            )
        }
        consumer.ack(messages, cumulative: request.ackType == .cumulative) { refusal in
            if let answer = Self.ackAnswer(request, refusal, logger: logger) { self.send(answer) }
        }
    }
}
