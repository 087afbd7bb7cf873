internal import Codec
internal import Foundation
import NIOCore
import PulsarProto
internal import PulsarWire

/// Encodes a producer's batch into a SEND frame, and decodes received entries into
/// messages: Pulsar's batch layout, `[u32 size][SingleMessageMetadata][payload]` per
/// message, compressed as one buffer.
enum BatchEncoding {
    /// The parts of a message the batch header keeps.
    struct Item {
        var message: OutgoingMessage
        var sequenceID: UInt64
    }

    /// A SEND frame for `items` (one or more), ready to write and to resend unchanged.
    ///
    /// With `batched` false there must be one item, sent as a plain message.
    static func sendFrame(
        _ items: [Item],
        batched: Bool,
        producerID: UInt64,
        producerName: String,
        compression: MessageCompression,
        publishTime: UInt64,
        allocator: ByteBufferAllocator
    ) throws(PulsarClientError) -> ByteBuffer {
        precondition(!items.isEmpty && (batched || items.count == 1), "a frame needs one message, or a batch")
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = producerName
        metadata.sequenceID = items[0].sequenceID
        metadata.publishTime = publishTime
        let uncompressed: ByteBuffer
        if batched {
            metadata.numMessagesInBatch = Int32(items.count)
            var payload = allocator.buffer(capacity: items.reduce(0) { $0 + $1.message.payload.readableBytes + 16 })
            for item in items { Self.writeSingle(item, into: &payload) }
            uncompressed = payload
            if items.count > 1 { metadata.highestSequenceID = items[items.count - 1].sequenceID }
        } else {
            let message = items[0].message
            Self.fill(&metadata, with: message)
            uncompressed = message.payload
        }
        if let deliverAt = items.compactMap(\.message.deliverAt).first { metadata.deliverAtTime = deliverAt }
        let payload: ByteBuffer
        if compression != .none {
            metadata.compression = Pulsar_Proto_CompressionType(rawValue: Int(compression.codec.rawValue)) ?? .none
            metadata.uncompressedSize = UInt32(uncompressed.readableBytes)
            do {
                payload = try compression.codec.compress(uncompressed, allocator: allocator)
            } catch {
                throw PulsarClientError(.compressionFailed, "\(compression) compression of a batch failed", cause: error)
            }
        } else {
            payload = uncompressed
        }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = producerID
        command.send.sequenceID = items[0].sequenceID
        if batched {
            command.send.numMessages = Int32(items.count)
            if items.count > 1 { command.send.highestSequenceID = items[items.count - 1].sequenceID }
        }
        var frame = allocator.buffer(capacity: payload.readableBytes + 128 + producerName.utf8.count)
        do {
            try PulsarFrame.write(command: command, metadata: metadata, payload: payload, into: &frame)
        } catch {
            throw PulsarClientError(.invalidArgument, "the message cannot be encoded: \(error)", cause: error)
        }
        return frame
    }

    /// The SEND frames of one message split into chunks of at most `chunkSize` bytes of
    /// its (compressed) payload: one sequence id, a shared uuid, chunk ids 0…n-1.
    static func chunkFrames(
        _ item: Item,
        chunkSize: Int,
        producerID: UInt64,
        producerName: String,
        compression: MessageCompression,
        publishTime: UInt64,
        allocator: ByteBufferAllocator
    ) throws(PulsarClientError) -> [ByteBuffer] {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = producerName
        metadata.sequenceID = item.sequenceID
        metadata.publishTime = publishTime
        Self.fill(&metadata, with: item.message)
        if let deliverAt = item.message.deliverAt { metadata.deliverAtTime = deliverAt }
        var payload = item.message.payload
        if compression != .none {
            metadata.compression = Pulsar_Proto_CompressionType(rawValue: Int(compression.codec.rawValue)) ?? .none
            metadata.uncompressedSize = UInt32(payload.readableBytes)
            do {
                payload = try compression.codec.compress(payload, allocator: allocator)
            } catch {
                throw PulsarClientError(.compressionFailed, "\(compression) compression of a message failed", cause: error)
            }
        }
        let total = payload.readableBytes
        let count = max(1, (total + chunkSize - 1) / chunkSize)
        metadata.uuid = "\(producerName)-\(item.sequenceID)"
        metadata.numChunksFromMsg = Int32(count)
        metadata.totalChunkMsgSize = Int32(total)
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = producerID
        command.send.sequenceID = item.sequenceID
        command.send.isChunk = true
        var frames: [ByteBuffer] = []
        for index in 0..<count {
            metadata.chunkID = Int32(index)
            let slice = payload.readSlice(length: min(chunkSize, payload.readableBytes)) ?? ByteBuffer()
            var frame = allocator.buffer(capacity: slice.readableBytes + 256 + producerName.utf8.count)
            do {
                try PulsarFrame.write(command: command, metadata: metadata, payload: slice, into: &frame)
            } catch {
                throw PulsarClientError(.invalidArgument, "the message cannot be encoded: \(error)", cause: error)
            }
            frames.append(frame)
        }
        return frames
    }

    /// The fields of a non-batched message's metadata that come from the message.
    private static func fill(_ metadata: inout Pulsar_Proto_MessageMetadata, with message: OutgoingMessage) {
        if let key = message.key { metadata.partitionKey = key }
        if let orderingKey = message.orderingKey { metadata.orderingKey = .init(orderingKey) }
        if message.eventTime != 0 { metadata.eventTime = message.eventTime }
        for (key, value) in message.properties.sorted(by: { $0.key < $1.key }) {
            var property = Pulsar_Proto_KeyValue()
            property.key = key
            property.value = value
            metadata.properties.append(property)
        }
    }

    /// Appends `[u32 size][SingleMessageMetadata][payload]`, encoding the header by hand
    /// (fields in number order) so no intermediate array is made.
    static func writeSingle(_ item: Item, into buffer: inout ByteBuffer) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        let start = buffer.writerIndex
        let message = item.message
        for (key, value) in message.properties.sorted(by: { $0.key < $1.key }) {
            let inner = 1 + Self.varintSize(UInt64(key.utf8.count)) + key.utf8.count + 1 + Self.varintSize(UInt64(value.utf8.count)) + value.utf8.count
            buffer.writeInteger(UInt8(0x0A))
            buffer.writeVarint(UInt64(inner))
            buffer.writeInteger(UInt8(0x0A))
            buffer.writeVarint(UInt64(key.utf8.count))
            buffer.writeString(key)
            buffer.writeInteger(UInt8(0x12))
            buffer.writeVarint(UInt64(value.utf8.count))
            buffer.writeString(value)
        }
        if let key = message.key {
            buffer.writeInteger(UInt8(0x12))
            buffer.writeVarint(UInt64(key.utf8.count))
            buffer.writeString(key)
        }
        buffer.writeInteger(UInt8(0x18))
        buffer.writeVarint(UInt64(message.payload.readableBytes))
        if message.eventTime != 0 {
            buffer.writeInteger(UInt8(0x28))
            buffer.writeVarint(message.eventTime)
        }
        if let orderingKey = message.orderingKey {
            buffer.writeInteger(UInt8(0x3A))
            buffer.writeVarint(UInt64(orderingKey.count))
            buffer.writeBytes(orderingKey)
        }
        buffer.writeInteger(UInt8(0x40))
        buffer.writeVarint(item.sequenceID)
        buffer.setInteger(UInt32(buffer.writerIndex - start), at: sizeIndex)
        buffer.writeImmutableBuffer(message.payload)
    }

    static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }
}

extension ByteBuffer {
    /// Appends `value` as a protobuf base-128 varint.
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: value | 0x80))
            value >>= 7
        }
        self.writeInteger(UInt8(value))
    }
}
