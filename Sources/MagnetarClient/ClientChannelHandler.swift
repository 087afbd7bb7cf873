import Logging
import NIOCore
import PulsarProto
import PulsarWire

/// A request with its id, timeout and answer, boxed once so that ``ClientOutbound``
/// stays small in the pipeline.
final class ClientRequest: Sendable {
    let command: Pulsar_Proto_BaseCommand
    let requestID: UInt64
    /// Nil: the request waits for its answer as long as the connection lives.
    let timeout: TimeAmount?
    let answer: EventLoopPromise<PulsarFrame>

    init(command: Pulsar_Proto_BaseCommand, requestID: UInt64, timeout: TimeAmount?, answer: EventLoopPromise<PulsarFrame>) {
        self.command = command
        self.requestID = requestID
        self.timeout = timeout
        self.answer = answer
    }
}

/// What a ``ClientConnection`` asks its channel handler to do.
enum ClientOutbound: Sendable {
    /// Writes a request and waits for its answer.
    case request(ClientRequest)
    /// Writes a command that has no answer.
    case command(Pulsar_Proto_BaseCommand)
    /// Writes an encoded frame (a SEND).
    case frame(ByteBuffer)
    case registerProducer(UInt64, any ConnectionListener)
    case registerConsumer(UInt64, any ConnectionListener)
    case unregisterProducer(UInt64)
    case unregisterConsumer(UInt64)
}

/// A producer or consumer that hears its frames from a connection.
protocol ConnectionListener: AnyObject, Sendable {
    /// A frame for this listener arrived on connection `connectionID` (on its event loop).
    func handle(_ frame: PulsarFrame, connectionID: UInt64)
    /// Connection `connectionID` closed; the listener is no longer registered on it.
    func connectionClosed(connectionID: UInt64, _ error: PulsarClientError)
}

/// The thin NIO side of a client connection: decoded frames and outbound requests go
/// through ``ClientConnectionStateMachine``, and the handler runs what it answers.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = PulsarFrame
    typealias OutboundIn = ClientOutbound
    typealias OutboundOut = ByteBuffer

    struct PendingRequest {
        let promise: EventLoopPromise<PulsarFrame>
        var timeout: Scheduled<Void>?
    }

    /// The handshake's outcome: the broker's max message size and protocol version.
    struct Handshake: Sendable {
        var maxMessageSize: Int?
        var protocolVersion: Int32
    }

    private var machine = ClientConnectionStateMachine<PendingRequest, any ConnectionListener>()
    private let connectionID: UInt64
    private let clientVersion: String
    private let handshake: EventLoopPromise<Handshake>
    private let logger: Logger
    private var closeError: PulsarClientError?
    private let keepAliveInterval: TimeAmount
    private var keepAlive: RepeatedTask?

    init(
        connectionID: UInt64, clientVersion: String, handshake: EventLoopPromise<Handshake>, keepAliveInterval: TimeAmount = .seconds(30),
        logger: Logger
    ) {
        self.keepAliveInterval = keepAliveInterval
        self.connectionID = connectionID
        self.clientVersion = clientVersion
        self.handshake = handshake
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        var connect = Pulsar_Proto_BaseCommand()
        connect.type = .connect
        connect.connect.clientVersion = self.clientVersion
        connect.connect.protocolVersion = 20
        var flags = Pulsar_Proto_FeatureFlags()
        flags.supportsBrokerEntryMetadata = false
        connect.connect.featureFlags = flags
        self.writeCommand(connect, context: context)
        context.flush()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.keepAlive = context.eventLoop.scheduleRepeatedTask(initialDelay: self.keepAliveInterval, delay: self.keepAliveInterval) { _ in
            let (handler, context) = bound.value
            handler.run(handler.machine.keepAliveTick(), context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        self.run(self.machine.received(frame), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.closeError == nil {
            self.closeError = error as? PulsarClientError
                ?? PulsarClientError(.connectionClosed, "the connection failed: \(error)", cause: error)
        }
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.keepAlive?.cancel()
        self.keepAlive = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.keepAlive?.cancel()
        self.keepAlive = nil
        let error = self.closeError ?? PulsarClientError(.connectionClosed, "the connection to the broker closed")
        self.handshake.fail(error)
        self.run(self.machine.channelClosed(error), context: context)
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .request(let boxed):
            let (command, requestID, timeout, answer) = (boxed.command, boxed.requestID, boxed.timeout, boxed.answer)
            var request = PendingRequest(promise: answer, timeout: nil)
            if let timeout {
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                request.timeout = context.eventLoop.scheduleTask(in: timeout) {
                    bound.value.machine.timedOut(requestID)?.promise.fail(
                        PulsarClientError(.timeout, "no answer to \(command.typeDescription) within \(timeout.nanoseconds / 1_000_000) ms")
                    )
                }
            }
            let producer = command.type == .producer ? command.producer.producerID : nil
            guard self.machine.sending(request, id: requestID, producer: producer) else {
                request.timeout?.cancel()
                answer.fail(self.closeError ?? PulsarClientError(.connectionClosed, "the connection is closed"))
                promise?.succeed()
                return
            }
            self.writeCommand(command, context: context, promise: promise)
        case .command(let command):
            self.writeCommand(command, context: context, promise: promise)
        case .frame(let bytes):
            context.write(self.wrapOutboundOut(bytes), promise: promise)
        case .registerProducer(let id, let listener):
            if !self.machine.register(producer: id, listener) { listener.connectionClosed(connectionID: self.connectionID, self.closedError) }
            promise?.succeed()
        case .registerConsumer(let id, let listener):
            if !self.machine.register(consumer: id, listener) { listener.connectionClosed(connectionID: self.connectionID, self.closedError) }
            promise?.succeed()
        case .unregisterProducer(let id):
            self.machine.unregister(producer: id)
            promise?.succeed()
        case .unregisterConsumer(let id):
            self.machine.unregister(consumer: id)
            promise?.succeed()
        }
    }

    private var closedError: PulsarClientError {
        self.closeError ?? PulsarClientError(.connectionClosed, "the connection is closed")
    }

    private func writeCommand(_ command: Pulsar_Proto_BaseCommand, context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try PulsarFrame.write(command: command, into: &buffer)
        } catch {
            promise?.fail(error)
            self.logger.info("a command could not be encoded", metadata: ["command": "\(command.typeDescription)", "error": "\(error)"])
            return
        }
        context.write(self.wrapOutboundOut(buffer), promise: promise)
    }

    private func run(_ action: ClientConnectionStateMachine<PendingRequest, any ConnectionListener>.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .reply(let command):
            self.writeCommand(command, context: context)
            context.flush()
        case .connected(let maxMessageSize, let protocolVersion):
            self.handshake.succeed(Handshake(maxMessageSize: maxMessageSize, protocolVersion: protocolVersion))
        case .succeed(let request, let frame):
            request.timeout?.cancel()
            request.promise.succeed(frame)
        case .fail(let request, let error):
            request.timeout?.cancel()
            request.promise.fail(error)
        case .deliver(let listener, let frame):
            listener.handle(frame, connectionID: self.connectionID)
        case .closeConnection(let error):
            self.logger.debug("closing a broker connection", metadata: ["error": "\(error)"])
            self.closeError = error
            self.handshake.fail(error)
            context.close(promise: nil)
        case .closed(let requests, let listeners, let error):
            for request in requests {
                request.timeout?.cancel()
                request.promise.fail(error)
            }
            for listener in listeners { listener.connectionClosed(connectionID: self.connectionID, error) }
        }
    }
}
