import ClusterTesting
import NIOCore
import NIOPosix
import PulsarProto
import PulsarWire

/// A Pulsar connection driven frame by frame, for what the real client cannot show:
/// commands it never sends and exactly what the broker answers.
final class RawPulsarClient: Sendable {
    private let channel: NIOAsyncChannel<PulsarFrame, ByteBuffer>
    private let frames: AsyncThrowingStream<PulsarFrame, any Error>
    private let iterator: UnsafeTransfer<AsyncThrowingStream<PulsarFrame, any Error>.Iterator>

    private init(channel: NIOAsyncChannel<PulsarFrame, ByteBuffer>) {
        self.channel = channel
        let (stream, continuation) = AsyncThrowingStream<PulsarFrame, any Error>.makeStream()
        self.frames = stream
        self.iterator = UnsafeTransfer(stream.makeAsyncIterator())
        Task {
            do {
                try await channel.executeThenClose { inbound, _ in
                    for try await frame in inbound { continuation.yield(frame) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// Connects and completes CONNECT/CONNECTED.
    static func connect(port: Int) async throws -> RawPulsarClient {
        let client = try await Self.open(port: port)
        var connect = Pulsar_Proto_BaseCommand()
        connect.type = .connect
        connect.connect.clientVersion = "raw-test"
        connect.connect.protocolVersion = 20
        try await client.send(connect)
        let connected = try await client.next()
        guard connected.command.type == .connected else { throw TestHarnessError("expected CONNECTED, got \(connected.command.type)") }
        return client
    }

    /// Opens a TCP connection and sends nothing.
    static func open(port: Int) async throws -> RawPulsarClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PulsarFrameDecoder()))
                    return try NIOAsyncChannel<PulsarFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawPulsarClient(channel: channel)
    }

    func send(_ command: Pulsar_Proto_BaseCommand) async throws {
        var buffer = ByteBuffer()
        try PulsarFrame.write(command: command, into: &buffer)
        try await self.channel.channel.writeAndFlush(buffer)
    }

    func send(_ command: Pulsar_Proto_BaseCommand, metadata: Pulsar_Proto_MessageMetadata, payload: ByteBuffer) async throws {
        var buffer = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: payload, into: &buffer)
        try await self.channel.channel.writeAndFlush(buffer)
    }

    /// Sends bytes as they are, framed or not.
    func sendRaw(_ bytes: ByteBuffer) async throws {
        try await self.channel.channel.writeAndFlush(bytes)
    }

    /// Encodes a SEND frame as a producer would.
    static func sendFrame(producer: UInt64, sequence: UInt64, payload: ByteBuffer) throws -> ByteBuffer {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "raw-\(producer)"
        metadata.sequenceID = sequence
        metadata.publishTime = 1
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = producer
        command.send.sequenceID = sequence
        var buffer = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: payload, into: &buffer)
        return buffer
    }

    /// The next frame within `timeout`, answering PINGs on the way.
    func next(timeout: Duration = .seconds(20)) async throws -> PulsarFrame {
        let iterator = self.iterator
        return try await withThrowingTaskGroup(of: PulsarFrame.self) { group in
            group.addTask {
                while true {
                    guard let frame = try await iterator.value.next() else { throw TestHarnessError("the broker closed the connection") }
                    if frame.command.type == .ping {
                        var pong = Pulsar_Proto_BaseCommand()
                        pong.type = .pong
                        pong.pong = Pulsar_Proto_CommandPong()
                        try await self.send(pong)
                        continue
                    }
                    return frame
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw TestHarnessError("no frame from the broker within \(timeout)")
            }
            let frame = try await group.next()!
            group.cancelAll()
            return frame
        }
    }

    /// The next frame of `type`, skipping others.
    func next(_ type: Pulsar_Proto_BaseCommand.TypeEnum, timeout: Duration = .seconds(20)) async throws -> PulsarFrame {
        while true {
            let frame = try await self.next(timeout: timeout)
            if frame.command.type == type { return frame }
        }
    }

    func close() async {
        try? await self.channel.channel.close()
    }
}

/// Moves a value that is used from one task at a time across a concurrency boundary.
final class UnsafeTransfer<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
