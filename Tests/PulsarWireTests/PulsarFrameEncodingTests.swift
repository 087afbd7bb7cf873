import Codec
import NIOCore
import PulsarProto
import PulsarWire
import SwiftProtobuf
import Testing

@Suite struct PulsarFrameEncodingTests {
    /// The bytes worked out by hand from the proto: tags are (field << 3) | wire type,
    /// with wire type 0 for varints and 2 for length-delimited fields.
    @Test func connectEncodesToTheBytesWorkedOutByHand() throws {
        var command = Fixtures.connect(clientVersion: "swift", protocolVersion: 20)
        command.connect.authMethodName = "none"
        let connect: [UInt8] =
            [0x0A, 0x05] + Array("swift".utf8)  // field 1 client_version, string of 5
            + [0x20, 0x14]  // field 4 protocol_version, varint 20
            + [0x2A, 0x04] + Array("none".utf8)  // field 5 auth_method_name, string of 4
        let baseCommand: [UInt8] =
            [0x08, 0x02]  // field 1 type, varint 2 (CONNECT)
            + [0x12, UInt8(connect.count)] + connect  // field 2 connect, message of 15
        let frame: [UInt8] =
            [0x00, 0x00, 0x00, UInt8(4 + baseCommand.count)]  // total size: 23
            + [0x00, 0x00, 0x00, UInt8(baseCommand.count)]  // command size: 19
            + baseCommand

        let encoded = try Fixtures.encode(command)
        #expect(Array(encoded.readableBytesView) == frame)
        #expect(frame.count == 27)
    }

    /// A SEND whose checksum was computed by an independent bitwise CRC32C.
    @Test func sendEncodesToTheBytesWorkedOutByHand() throws {
        let encoded = try Fixtures.encode(
            Fixtures.send(producerID: 1, sequenceID: 0),
            metadata: Fixtures.metadata(producerName: "p", sequenceID: 0, publishTime: 1),
            payload: "hi"
        )
        let baseCommand: [UInt8] = [0x08, 0x06, 0x32, 0x04, 0x08, 0x01, 0x10, 0x00]  // SEND {producer_id 1, sequence_id 0}
        let metadata: [UInt8] = [0x0A, 0x01, 0x70, 0x10, 0x00, 0x18, 0x01]  // {producer_name "p", sequence_id 0, publish_time 1}
        let frame: [UInt8] =
            [0x00, 0x00, 0x00, 0x1F]  // total: 4 + 8 + 2 + 4 + 13
            + [0x00, 0x00, 0x00, 0x08] + baseCommand
            + [0x0E, 0x01]  // checksum magic
            + [0x7E, 0xD8, 0xDF, 0x46]  // CRC32C of the 13 bytes below
            + [0x00, 0x00, 0x00, 0x07] + metadata + Array("hi".utf8)
        #expect(Array(encoded.readableBytesView) == frame)
    }

    @Test func simpleCommandsRoundTrip() throws {
        let commands = [Fixtures.connect(), Fixtures.ping, Fixtures.producer, Fixtures.sendReceipt, Fixtures.error]
        var buffer = ByteBuffer()
        for command in commands { try PulsarFrame.write(command: command, into: &buffer) }
        let frames = try Fixtures.decodeAll(buffer)
        #expect(frames.map(\.command) == commands)
        #expect(frames.allSatisfy { $0.payload == nil })
        // -1 travels as 2^64 - 1 and comes back unchanged.
        #expect(frames[3].command.sendReceipt.messageID.entryID == .max)
    }

    @Test func payloadCommandsRoundTrip() throws {
        let entryMetadata = Pulsar_Proto_BrokerEntryMetadata.with { $0.brokerTimestamp = 1234; $0.index = 99 }
        var buffer = try Fixtures.encode(Fixtures.send(sequenceID: 100), metadata: Fixtures.batchMetadata, payload: "batch bytes")
        var second = try Fixtures.encode(Fixtures.message, metadata: Fixtures.metadata(), payload: "", brokerEntryMetadata: entryMetadata)
        buffer.writeBuffer(&second)

        let frames = try Fixtures.decodeAll(buffer)
        try #require(frames.count == 2)
        let send = try #require(frames[0].payload)
        #expect(frames[0].command == Fixtures.send(sequenceID: 100))
        #expect(send.metadata == Fixtures.batchMetadata)
        #expect(send.metadata.hasNumMessagesInBatch)
        #expect(send.payload == ByteBuffer(string: "batch bytes"))
        #expect(send.brokerEntryMetadata == nil)
        #expect(send.checksumValid)
        #expect(send.checksum == CRC32C.checksum(send.metadataAndPayload))

        let message = try #require(frames[1].payload)
        #expect(frames[1].command == Fixtures.message)
        #expect(message.brokerEntryMetadata == entryMetadata)
        #expect(message.metadata == Fixtures.metadata())
        #expect(message.payload.readableBytes == 0)
        #expect(message.checksumValid)
    }

    @Test func aDecodedFrameWritesBackToTheSameBytes() throws {
        let entryMetadata = Pulsar_Proto_BrokerEntryMetadata.with { $0.index = 7 }
        var original = try Fixtures.encode(Fixtures.ping)
        var payloadFrame = try Fixtures.encode(Fixtures.message, metadata: Fixtures.batchMetadata, payload: "xyz", brokerEntryMetadata: entryMetadata)
        original.writeBuffer(&payloadFrame)

        var rewritten = ByteBuffer()
        for frame in try Fixtures.decodeAll(original) { try frame.write(into: &rewritten) }
        #expect(rewritten == original)
    }

    @Test func storedBytesAreForwardedUnchanged() throws {
        let frame = try #require(try Fixtures.decodeAll(try Fixtures.encode(Fixtures.send(), metadata: Fixtures.batchMetadata, payload: "stored")).first)
        let stored = try #require(frame.payload)

        // With the stored checksum, with it recomputed, and as a header plus a separate buffer.
        var withChecksum = ByteBuffer()
        try PulsarFrame.write(command: Fixtures.message, metadataAndPayload: stored.metadataAndPayload, checksum: stored.checksum, into: &withChecksum)
        var recomputed = ByteBuffer()
        try PulsarFrame.write(command: Fixtures.message, metadataAndPayload: stored.metadataAndPayload, into: &recomputed)
        var vectored = ByteBuffer()
        try PulsarFrame.writeHeader(
            command: Fixtures.message,
            metadataAndPayloadSize: stored.metadataAndPayload.readableBytes,
            checksum: try #require(stored.checksum),
            into: &vectored
        )
        vectored.writeImmutableBuffer(stored.metadataAndPayload)
        #expect(withChecksum == recomputed)
        #expect(vectored == recomputed)

        let forwarded = try #require(try Fixtures.decodeAll(withChecksum).first?.payload)
        #expect(forwarded.checksumValid)
        #expect(forwarded.metadata == Fixtures.batchMetadata)
        #expect(forwarded.payload == ByteBuffer(string: "stored"))
    }

    @Test func aStoredEntryParsesOnItsOwn() throws {
        let encoded = try Fixtures.encode(Fixtures.send(), metadata: Fixtures.metadata(), payload: "entry")
        let payload = try #require(try Fixtures.decodeAll(encoded).first?.payload)
        var entry = ByteBuffer()
        entry.writeMultipleIntegers(PulsarFrame.checksumMagic, try #require(payload.checksum))
        entry.writeImmutableBuffer(payload.metadataAndPayload)
        #expect(try PulsarPayload(parsing: entry) == payload)
    }

    @Test func messagesMissingRequiredFieldsAreRefusedAndNothingIsWritten() {
        var buffer = ByteBuffer(string: "before")
        let connected = Pulsar_Proto_BaseCommand.with {
            $0.type = .connected
            $0.connected = .with { $0.protocolVersion = 20 }  // server_version is required
        }
        let commandError = #expect(throws: PulsarWireError.self) { try PulsarFrame.write(command: connected, into: &buffer) }
        #expect(commandError?.code == .incompleteMessage)
        #expect(commandError?.message.contains("connected") == true)

        var metadata = Fixtures.metadata()
        metadata.clearProducerName()
        let metadataError = #expect(throws: PulsarWireError.self) {
            try PulsarFrame.write(command: Fixtures.send(), metadata: metadata, payload: ByteBuffer(), into: &buffer)
        }
        #expect(metadataError?.code == .incompleteMessage)
        #expect(buffer == ByteBuffer(string: "before"))
    }

    @Test func theFrameLimitFollowsTheAnnouncedMessageSize() {
        #expect(PulsarFrame.defaultMaxMessageSize == 5 * 1024 * 1024)
        let decoder = PulsarFrameDecoder()
        #expect(decoder.maxMessageSize == PulsarFrame.defaultMaxMessageSize)
        #expect(decoder.maximumFrameSize == PulsarFrame.defaultMaxMessageSize + PulsarFrame.framePadding)
        #expect(PulsarFrameDecoder(maxMessageSize: 1000).maximumFrameSize == 1000 + PulsarFrame.framePadding)
    }
}
