import Codec
import NIOCore
import NIOEmbedded
import NIOTestUtils
import PulsarProto
import PulsarWire
import SwiftProtobuf
import Testing

@Suite struct PulsarFrameDecoderTests {
    static func mixedStream() throws -> (ByteBuffer, [PulsarFrame]) {
        var bytes = ByteBuffer()
        for command in [Fixtures.connect(), Fixtures.ping, Fixtures.producer] {
            try PulsarFrame.write(command: command, into: &bytes)
        }
        for sequenceID in UInt64(0)..<3 {
            try PulsarFrame.write(
                command: Fixtures.send(sequenceID: sequenceID),
                metadata: Fixtures.metadata(sequenceID: sequenceID),
                payload: ByteBuffer(repeating: UInt8(sequenceID), count: 1000 * Int(sequenceID)),
                into: &bytes
            )
        }
        try PulsarFrame.write(command: Fixtures.sendReceipt, into: &bytes)
        return (bytes, try Fixtures.decodeAll(bytes))
    }

    @Test func pipelinedFramesComeOutInOrder() throws {
        let (_, frames) = try Self.mixedStream()
        #expect(frames.map(\.command.type) == [.connect, .ping, .producer, .send, .send, .send, .sendReceipt])
        #expect(frames[3...5].map { $0.payload?.metadata.sequenceID } == [0, 1, 2])
        #expect(frames[3...5].map { $0.payload?.payload.readableBytes } == [0, 1000, 2000])
    }

    /// The verifier feeds the stream whole, byte by byte, and in other splits, and checks
    /// that nothing is left over.
    @Test func framesSurviveEverySplit() throws {
        let (bytes, frames) = try Self.mixedStream()
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [(bytes, frames)]) {
            PulsarFrameDecoder()
        }
    }

    @Test func aFrameFedOneByteAtATimeDecodesOnlyWhenComplete() throws {
        let encoded = try Fixtures.encode(Fixtures.send(), metadata: Fixtures.batchMetadata, payload: "split")
        var decoder = PulsarFrameDecoder()
        var buffer = ByteBuffer()
        var decoded: [PulsarFrame] = []
        for (index, byte) in encoded.readableBytesView.enumerated() {
            buffer.writeInteger(byte)
            if let frame = try decoder.decode(buffer: &buffer) {
                #expect(index == encoded.readableBytes - 1)
                decoded.append(frame)
            }
        }
        #expect(decoded.count == 1)
        #expect(decoded.first?.payload?.payload == ByteBuffer(string: "split"))
        #expect(buffer.readableBytes == 0)
    }

    @Test func thePayloadIsASliceOfTheInputNotACopy() throws {
        let bytes = try Fixtures.encode(Fixtures.send(), metadata: Fixtures.metadata(), payload: "no copy")
        let payload = try #require(try Fixtures.decodeAll(bytes).first?.payload)
        let inputEnd = bytes.withUnsafeReadableBytes { $0.baseAddress! + $0.count }
        let payloadEnd = payload.payload.withUnsafeReadableBytes { $0.baseAddress! + $0.count }
        let coveredEnd = payload.metadataAndPayload.withUnsafeReadableBytes { $0.baseAddress! + $0.count }
        #expect(payloadEnd == inputEnd)
        #expect(coveredEnd == inputEnd)
    }

    @Test func aWrongChecksumIsReportedAndTheNextFrameStillDecodes() throws {
        var damaged = try Fixtures.encode(Fixtures.send(sequenceID: 1), metadata: Fixtures.metadata(sequenceID: 1), payload: "payload")
        let lastIndex = damaged.writerIndex - 1
        damaged.setInteger(damaged.getInteger(at: lastIndex, as: UInt8.self)! ^ 0x01, at: lastIndex)
        var good = try Fixtures.encode(Fixtures.send(sequenceID: 2), metadata: Fixtures.metadata(sequenceID: 2), payload: "payload")
        damaged.writeBuffer(&good)

        let frames = try Fixtures.decodeAll(damaged)
        try #require(frames.count == 2)
        let bad = try #require(frames[0].payload)
        #expect(!bad.checksumValid)
        #expect(bad.checksum != CRC32C.checksum(bad.metadataAndPayload))
        // The command is outside the checksum, so the broker can still name the message in SEND_ERROR.
        #expect(frames[0].command.send.sequenceID == 1)
        #expect(frames[1].payload?.checksumValid == true)
        #expect(frames[1].payload?.metadata.sequenceID == 2)
    }

    @Test func garbledMetadataUnderAWrongChecksumIsReportedNotThrown() throws {
        // Metadata bytes that are not protobuf, and a metadata size that overruns the frame.
        let send: [UInt8] = try Fixtures.send().serializedBytes()
        for covered in [Fixtures.metadataAndPayload([0xFF, 0xFF, 0xFF], [1, 2]), [0x7F, 0x00, 0x00, 0x00, 0x01]] {
            let frame = Fixtures.rawFrame(command: send, rest: [0x0E, 0x01, 0xDE, 0xAD, 0xBE, 0xEF] + covered)
            let payload = try #require(try Fixtures.decodeAll(frame).first?.payload)
            #expect(!payload.checksumValid)
            #expect(payload.checksum == 0xDEAD_BEEF)
            #expect(payload.metadata == Pulsar_Proto_MessageMetadata())
            #expect(payload.payload == ByteBuffer(bytes: covered))
        }
    }

    @Test func aFrameWithoutChecksumIsAcceptedAsValid() throws {
        // Clients below protocol version 6 send no checksum block.
        let metadata: [UInt8] = try Fixtures.metadata().serializedBytes()
        let send: [UInt8] = try Fixtures.send().serializedBytes()
        let frame = Fixtures.rawFrame(command: send, rest: Fixtures.metadataAndPayload(metadata, Array("old".utf8)))
        let payload = try #require(try Fixtures.decodeAll(frame).first?.payload)
        #expect(payload.checksum == nil)
        #expect(payload.checksumValid)
        #expect(payload.metadata == Fixtures.metadata())
        #expect(payload.payload == ByteBuffer(string: "old"))
    }

    @Test func anOversizeFrameIsRefusedFromItsSizeAlone() throws {
        let limit = PulsarFrameDecoder(maxMessageSize: 1000).maximumFrameSize
        var atLimit = ByteBuffer()
        atLimit.writeInteger(UInt32(limit))
        #expect(try Fixtures.decodeAll(atLimit, maxMessageSize: 1000).isEmpty)  // waits for the body

        var above = ByteBuffer()
        above.writeInteger(UInt32(limit + 1))
        let error = #expect(throws: PulsarWireError.self) { try Fixtures.decodeAll(above, maxMessageSize: 1000) }
        #expect(error?.code == .frameTooLarge)

        // The default limit lets a 5 MiB message through and refuses the 32-bit maximum.
        let big = try Fixtures.encode(Fixtures.send(), metadata: Fixtures.metadata(), payload: String(repeating: "x", count: 5 << 20))
        #expect(try Fixtures.decodeAll(big).first?.payload?.payload.readableBytes == 5 << 20)
        var huge = ByteBuffer()
        huge.writeInteger(UInt32.max)
        #expect(throws: PulsarWireError.self) { try Fixtures.decodeAll(huge) }
    }

    @Test func anOversizeFrameClosesTheChannelBeforeItsBodyArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PulsarFrameDecoder(maxMessageSize: 100)))
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(1 << 20))
        let error = #expect(throws: PulsarWireError.self) { try channel.writeInbound(prefix) }
        #expect(error?.code == .frameTooLarge)
        _ = try? channel.finish()
    }

    @Test func framesPassThroughAChannel() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PulsarFrameDecoder()))
        let (bytes, frames) = try Self.mixedStream()
        var input = bytes
        while input.readableBytes > 0 {
            try channel.writeInbound(input.readSlice(length: min(700, input.readableBytes))!)
        }
        var received: [PulsarFrame] = []
        while let frame = try channel.readInbound(as: PulsarFrame.self) { received.append(frame) }
        #expect(received == frames)
        #expect(try channel.finish().isClean)
    }

    @Test func impossibleSizesAreMalformedFrames() throws {
        var tooShort = ByteBuffer()
        tooShort.writeInteger(UInt32(3))
        tooShort.writeBytes([0, 0, 0])
        var commandOverruns = ByteBuffer()
        commandOverruns.writeMultipleIntegers(UInt32(8), UInt32(5))
        commandOverruns.writeBytes([0x08, 0x12, 0, 0])
        let send: [UInt8] = try Fixtures.send().serializedBytes()
        let metadataOverruns = Fixtures.rawFrame(command: send, rest: [0, 0, 0, 50, 0x0A])
        let noMetadataSize = Fixtures.rawFrame(command: send, rest: [0, 0])
        let checksumCutShort = Fixtures.rawFrame(command: send, rest: [0x0E, 0x01, 0, 0])
        let entryMetadataOverruns = Fixtures.rawFrame(command: send, rest: [0x0E, 0x02, 0, 0, 0, 9, 0x08])

        for frame in [tooShort, commandOverruns, metadataOverruns, noMetadataSize, checksumCutShort, entryMetadataOverruns] {
            let error = #expect(throws: PulsarWireError.self) { try Fixtures.decodeAll(frame) }
            #expect(error?.code == .malformedFrame, "\(Array(frame.readableBytesView))")
        }
    }

    @Test func badCommandsAreMalformedCommands() throws {
        let cases: [(String, [UInt8])] = [
            ("not protobuf", [0xFF, 0xFF, 0xFF, 0xFF]),
            ("truncated length-delimited field", [0x08, 0x02, 0x12, 0x10, 0x0A]),
            ("no type", []),
            ("a type number no Pulsar version has", [0x08, 0x63]),
            ("CONNECT without client_version", [0x08, 0x02, 0x12, 0x02, 0x20, 0x14]),
        ]
        for (name, command) in cases {
            let error = #expect(throws: PulsarWireError.self, "\(name)") { try Fixtures.decodeAll(Fixtures.rawFrame(command: command)) }
            #expect(error?.code == .malformedCommand, "\(name)")
        }
    }

    @Test func badMetadataUnderAGoodChecksumIsMalformedMetadata() throws {
        let send: [UInt8] = try Fixtures.send().serializedBytes()
        var missingRequired = Fixtures.metadata()
        missingRequired.clearPublishTime()
        let incomplete: [UInt8] = try missingRequired.serializedBytes(partial: true)
        for metadata in [[0xFF, 0xFF, 0xFF], incomplete] {
            let covered = Fixtures.metadataAndPayload(metadata, [1, 2, 3])
            var rest = ByteBuffer()
            rest.writeMultipleIntegers(PulsarFrame.checksumMagic, CRC32C.checksum(covered))
            rest.writeBytes(covered)
            let error = #expect(throws: PulsarWireError.self) {
                try Fixtures.decodeAll(Fixtures.rawFrame(command: send, rest: Array(rest.readableBytesView)))
            }
            #expect(error?.code == .malformedMetadata)
        }
    }

    @Test func commandsThisCodeDoesNotDeclareAreRecognisedByType() throws {
        // WATCH_TOPIC_LIST (64) with its body in field 64: {request_id 7}.
        let frame = Fixtures.rawFrame(command: [0x08, 0x40, 0x82, 0x04, 0x02, 0x08, 0x07])
        let command = try #require(try Fixtures.decodeAll(frame).first?.command)
        #expect(command.type == .watchTopicList)
        #expect(command.type.rawValue == 64)
        #expect(!command.unknownFields.data.isEmpty)
        // Kept as unknown fields, they are written back unchanged.
        #expect(try Fixtures.encode(command) == frame)
    }

    @Test func transactionRequestsCarryTheirRequestID() throws {
        // NEW_TXN (50) with its body in field 50: {request_id 7}; END_TXN (56) with
        // {request_id 9, txnid_least_bits 3, txnid_most_bits 1, txn_action 0}.
        let newTxn = try #require(try Fixtures.decodeAll(Fixtures.rawFrame(command: [0x08, 0x32, 0x92, 0x03, 0x02, 0x08, 0x07])).first)
        #expect(newTxn.command.type == .newTxn && newTxn.command.newTxn.requestID == 7)
        let endTxn = try #require(
            try Fixtures.decodeAll(Fixtures.rawFrame(command: [0x08, 0x38, 0xC2, 0x03, 0x08, 0x08, 0x09, 0x10, 0x03, 0x18, 0x01, 0x20, 0x00])).first
        )
        #expect(endTxn.command.type == .endTxn)
        #expect(endTxn.command.endTxn.requestID == 9 && endTxn.command.endTxn.txnidLeastBits == 3 && endTxn.command.endTxn.txnidMostBits == 1)
    }
}
