@testable import Broker
import Codec
import Ledger
import Logging
import ManagedLedger
import Metadata
import NIOCore
import NIOEmbedded
import PulsarProto
import PulsarWire
import SwiftProtobuf
import Testing

/// The Pulsar channel handler on a test channel: framing, error answers, flushes and the
/// connection's task group, with no socket and no bookie.
@Suite struct PulsarConnectionHandlerTests {
    /// Counts the flushes that reach the socket.
    final class FlushCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var flushes = 0

        func flush(context: ChannelHandlerContext) {
            self.flushes += 1
            context.flush()
        }
    }

    struct Harness {
        let channel: NIOAsyncTestingChannel
        let connection: PulsarConnection
        let flushes: FlushCounter
        let broker: BrokerContext

        static func make() async throws -> Harness {
            let metadata = MemoryMetadataStore()
            let broker = BrokerContext(
                name: "test", serviceURL: "pulsar://127.0.0.1:6650", maxMessageSize: 5 << 20,
                metadata: metadata, clients: [LedgerClient(metadata: metadata)], ledgerConfiguration: ManagedLedgerConfiguration(),
                defaultCompression: .none, logger: Logger(label: "test")
            )
            try await broker.createDefaultNamespace()
            let channel = NIOAsyncTestingChannel()
            let connection = PulsarConnection(broker: broker, channel: channel)
            let flushes = FlushCounter()
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(flushes)
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PulsarFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(connection)
            }.get()
            try await channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 6650))
            return Harness(channel: channel, connection: connection, flushes: flushes, broker: broker)
        }

        /// Writes `commands` as one read, then completes the read.
        func read(_ commands: [Pulsar_Proto_BaseCommand]) async throws {
            var buffer = ByteBuffer()
            for command in commands { try PulsarFrame.write(command: command, into: &buffer) }
            try await self.read(buffer)
        }

        func read(_ buffer: ByteBuffer) async throws {
            try await self.channel.writeInbound(buffer)
            self.channel.pipeline.fireChannelReadComplete()
        }

        /// Every frame written so far.
        func written() async throws -> [Pulsar_Proto_BaseCommand] {
            var frames: [Pulsar_Proto_BaseCommand] = []
            var decoder = PulsarFrameDecoder()
            while var buffer = try await self.channel.readOutbound(as: ByteBuffer.self) {
                while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame.command) }
            }
            return frames
        }

        func connect() async throws {
            try await self.read([PulsarConnectionStateMachineTests.command(.connect) { $0.connect.protocolVersion = 20; $0.connect.clientVersion = "test" }.command])
            let answer = try await self.written()
            #expect(answer.map(\.type) == [.connected])
        }
    }

    @Test func commandsReadTogetherAreAnsweredWithOneFlush() async throws {
        let harness = try await Harness.make()
        try await harness.connect()
        let flushesBefore = harness.flushes.flushes
        let ping = PulsarConnectionStateMachineTests.command(.ping).command
        try await harness.read([ping, ping, ping])
        let first = try await harness.channel.readOutbound(as: ByteBuffer.self)
        #expect(try await harness.channel.readOutbound(as: ByteBuffer.self) == nil, "the three PONGs are one buffer")
        var buffer = try #require(first)
        var decoder = PulsarFrameDecoder()
        var pongs = 0
        while let frame = try decoder.decode(buffer: &buffer) {
            #expect(frame.command.type == .pong)
            pongs += 1
        }
        #expect(pongs == 3)
        #expect(harness.flushes.flushes - flushesBefore == 1)
    }

    @Test func aRequestBeforeConnectGetsItsErrorAndTheConnectionCloses() async throws {
        let harness = try await Harness.make()
        try await harness.read([PulsarConnectionStateMachineTests.command(.producer) {
            $0.producer.requestID = 17
            $0.producer.producerID = 1
            $0.producer.topic = "persistent://public/default/t"
        }.command])
        let answer = try await harness.written()
        #expect(answer.count == 1)
        #expect(answer.first?.type == .error)
        #expect(answer.first?.error.requestID == 17)
        try await harness.channel.closeFuture.get()
    }

    /// A SUBSCRIBE frame with a request id but no topic, subscription or type (required
    /// fields).
    static func subscribeLackingRequiredFields(requestID: UInt64) throws -> ByteBuffer {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .subscribe
        command.subscribe.requestID = requestID
        command.subscribe.consumerID = 1
        let bytes: [UInt8] = try command.serializedBytes(partial: true)
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(4 + bytes.count), UInt32(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }

    @Test func aCommandMissingARequiredFieldIsAnsweredByItsRequestIDBeforeTheClose() async throws {
        let harness = try await Harness.make()
        try await harness.connect()
        try? await harness.read(try Self.subscribeLackingRequiredFields(requestID: 42))
        let answer = try await harness.written()
        #expect(answer.map(\.type) == [.error])
        #expect(answer.first?.error.requestID == 42)
        try await harness.channel.closeFuture.get()
    }

    @Test func aRequestNeedingTheMetadataStoreRunsInTheConnectionsTaskGroup() async throws {
        let harness = try await Harness.make()
        try await harness.broker.createPartitionedTopic(try TopicName("persistent://public/default/p"), partitions: 3)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await harness.connection.run() }
            try await harness.connect()
            try await harness.read([PulsarConnectionStateMachineTests.command(.partitionedMetadata) {
                $0.partitionMetadata.requestID = 5
                $0.partitionMetadata.topic = "persistent://public/default/p"
            }.command])
            let buffer = try await harness.channel.waitForOutboundWrite(as: ByteBuffer.self)
            var decoder = PulsarFrameDecoder()
            var copy = buffer
            let frame = try #require(try decoder.decode(buffer: &copy))
            #expect(frame.command.type == .partitionedMetadataResponse)
            #expect(frame.command.partitionMetadataResponse.requestID == 5)
            #expect(frame.command.partitionMetadataResponse.partitions == 3)
            // Closing the channel ends the connection's task group.
            try await harness.channel.close()
        }
    }
}
