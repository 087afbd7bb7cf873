import Logging
import NIOCore
import NIOPosix
import PulsarProto
import PulsarWire
import Synchronization

/// One TCP connection to a broker after a finished CONNECT handshake.
///
/// Producers and consumers share it; every call may come from any thread. Requests get
/// ids from the connection's own counter and fail after their timeout; their answers
/// come back through ``ClientChannelHandler``.
final class ClientConnection: Sendable {
    let id: UInt64
    let address: BrokerAddress
    let channel: any Channel
    /// The broker's limit for one message (CONNECTED.max_message_size, default 5 MiB).
    let maxMessageSize: Int
    private let requestIDs = Atomic<UInt64>(0)
    private static let connectionIDs = Atomic<UInt64>(0)

    private init(id: UInt64, address: BrokerAddress, channel: any Channel, maxMessageSize: Int) {
        self.id = id
        self.address = address
        self.channel = channel
        self.maxMessageSize = maxMessageSize
    }

    /// Opens a connection and completes the handshake within `timeout`.
    static func connect(
        to address: BrokerAddress,
        group: any EventLoopGroup,
        clientVersion: String,
        timeout: Duration,
        keepAliveInterval: Duration = .seconds(30),
        logger: Logger
    ) async throws(PulsarClientError) -> ClientConnection {
        let keepAlive = TimeAmount.nanoseconds(Int64(clamping: keepAliveInterval.components.seconds) * 1_000_000_000)
        let id = Self.connectionIDs.add(1, ordering: .relaxed).newValue
        let eventLoop = group.next()
        let handshake = eventLoop.makePromise(of: ClientChannelHandler.Handshake.self)
        let timeAmount = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(timeAmount)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PulsarFrameDecoder(maxMessageSize: 64 << 20)))
                        try channel.pipeline.syncOperations.addHandler(
                            ClientChannelHandler(
                                connectionID: id, clientVersion: clientVersion, handshake: handshake, keepAliveInterval: keepAlive, logger: logger
                            )
                        )
                    }
                }
                .connect(host: address.host, port: address.port).get()
        } catch {
            handshake.fail(error)
            throw PulsarClientError(.connectionFailed, "cannot connect to \(address): \(error)", cause: error)
        }
        let timer = eventLoop.scheduleTask(in: timeAmount) {
            handshake.fail(PulsarClientError(.timeout, "no CONNECTED from \(address) within \(timeout)"))
        }
        do {
            let result = try await handshake.futureResult.get()
            timer.cancel()
            logger.debug("connected to a broker", metadata: ["broker": "\(address)", "protocol": "\(result.protocolVersion)"])
            return ClientConnection(id: id, address: address, channel: channel, maxMessageSize: result.maxMessageSize ?? PulsarFrame.defaultMaxMessageSize)
        } catch {
            timer.cancel()
            channel.close(promise: nil)
            if let error = error as? PulsarClientError, error.code != .connectionClosed { throw error }
            throw PulsarClientError(.connectionFailed, "the handshake with \(address) failed: \(error)", cause: error)
        }
    }

    var isActive: Bool { self.channel.isActive }

    func nextRequestID() -> UInt64 {
        self.requestIDs.add(1, ordering: .relaxed).newValue
    }

    /// Sends the command `make` builds with a fresh request id and waits for its answer.
    /// An ERROR answer throws ``PulsarClientError/Code/brokerError``.
    func request(timeout: Duration?, _ make: (UInt64) -> Pulsar_Proto_BaseCommand) async throws(PulsarClientError) -> PulsarFrame {
        let requestID = self.nextRequestID()
        let command = make(requestID)
        let promise = self.channel.eventLoop.makePromise(of: PulsarFrame.self)
        let amount = timeout.map { TimeAmount.nanoseconds(Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000) }
        self.channel.writeAndFlush(ClientOutbound.request(ClientRequest(command: command, requestID: requestID, timeout: amount, answer: promise))).whenFailure { error in
            promise.fail(PulsarClientError(.connectionClosed, "a \(command.typeDescription) could not be written: \(error)", cause: error))
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as PulsarClientError {
            throw error
        } catch {
            throw PulsarClientError(.connectionClosed, "\(command.typeDescription) failed: \(error)", cause: error)
        }
    }

    /// Writes a command that has no answer (FLOW, ACK, REDELIVER…).
    func send(_ command: Pulsar_Proto_BaseCommand) {
        self.channel.writeAndFlush(ClientOutbound.command(command), promise: nil)
    }

    /// Writes an encoded frame; with `flush` false it waits for the next flush.
    ///
    /// Frames are always queued on the event loop, even from the event loop itself, so
    /// they leave in the order of these calls whichever thread makes them: a direct
    /// write from the loop would overtake one queued a moment before from elsewhere, and
    /// the broker would store a producer's batches out of order.
    func write(frame: ByteBuffer, flush: Bool = true) {
        let channel = self.channel
        channel.eventLoop.execute {
            if flush {
                channel.writeAndFlush(ClientOutbound.frame(frame), promise: nil)
            } else {
                channel.write(ClientOutbound.frame(frame), promise: nil)
            }
        }
    }

    /// Flushes what ``write(frame:flush:)`` queued before.
    func flush() {
        let channel = self.channel
        channel.eventLoop.execute { channel.flush() }
    }

    func register(producer id: UInt64, _ listener: any ConnectionListener) {
        self.channel.write(ClientOutbound.registerProducer(id, listener), promise: nil)
    }

    func register(consumer id: UInt64, _ listener: any ConnectionListener) {
        self.channel.write(ClientOutbound.registerConsumer(id, listener), promise: nil)
    }

    func unregister(producer id: UInt64) {
        self.channel.write(ClientOutbound.unregisterProducer(id), promise: nil)
    }

    func unregister(consumer id: UInt64) {
        self.channel.write(ClientOutbound.unregisterConsumer(id), promise: nil)
    }

    func close() {
        self.channel.close(promise: nil)
    }
}
