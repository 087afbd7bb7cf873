@testable import Broker
import Codec
import NIOCore
import PulsarProto
import PulsarWire
import Testing

@Suite struct StoredEntryTests {
    static func receivedSend(_ body: String) throws -> (frame: ByteBuffer, payload: PulsarPayload) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = 1
        command.send.sequenceID = 1
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.sequenceID = 1
        metadata.publishTime = 1
        var frame = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: ByteBuffer(string: body), into: &frame)
        var input = frame
        var decoder = PulsarFrameDecoder()
        let payload = try #require(try decoder.decode(buffer: &input)?.payload)
        return (frame, payload)
    }

    /// The address range of a buffer's readable bytes.
    static func range(_ buffer: ByteBuffer) -> Range<UInt> {
        buffer.withUnsafeReadableBytes { bytes in
            let start = UInt(bitPattern: bytes.baseAddress)
            return start..<(start + UInt(bytes.count))
        }
    }

    @Test func aMessageStoredAsReceivedIsASliceOfTheReceivedBytes() throws {
        let (frame, payload) = try Self.receivedSend(String(repeating: "m", count: 300))
        let entry = StoredEntry.encode(payload)
        let received = Self.range(frame)
        let stored = Self.range(entry)
        #expect(received.contains(stored.lowerBound) && stored.upperBound <= received.upperBound, "the entry was copied")
        var check = entry
        #expect(check.readInteger(as: UInt16.self) == PulsarFrame.checksumMagic)
        #expect(check.readInteger(as: UInt32.self) == payload.checksum)
        #expect(check == payload.metadataAndPayload)
    }

    @Test func aMessageTheBrokerCompressesIsRewrittenWithItsOwnChecksum() throws {
        let (_, payload) = try Self.receivedSend(String(repeating: "z", count: 4000))
        var entry = StoredEntry.encode(payload, compression: .lz4)
        let stored = try PulsarPayload(parsing: entry)
        #expect(stored.checksumValid)
        #expect(stored.metadata.compression == .lz4)
        #expect(entry.readableBytes < payload.metadataAndPayload.readableBytes)
        entry.moveReaderIndex(forwardBy: 2)
        #expect(entry.readInteger(as: UInt32.self) == CRC32C.checksum(entry))
    }
}
