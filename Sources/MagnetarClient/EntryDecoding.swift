internal import Codec
import NIOCore
import PulsarProto
import PulsarWire
internal import SwiftProtobuf
internal import Foundation

/// Turns one received entry (a MESSAGE frame's payload) into the messages it holds:
/// decompressed, a batch split into its messages, messages that the broker marks as
/// already acknowledged (`ack_set`) left out.
enum EntryDecoding {
    /// The messages of `payload`, delivered as `id` (its ledger, entry and partition).
    static func messages(
        _ payload: PulsarPayload,
        id: MessageID,
        topic: String,
        redeliveryCount: UInt32,
        ackSet: [Int64]
    ) throws(PulsarClientError) -> [Message] {
        guard payload.checksumValid else {
            throw PulsarClientError(.protocolError, "the entry \(id) of \(topic) failed its checksum")
        }
        let metadata = payload.metadata
        let body = try Self.decompress(payload, id: id)
        let base = Message(
            id: id, topic: topic, payload: body, key: metadata.hasPartitionKey ? metadata.partitionKey : nil,
            orderingKey: metadata.hasOrderingKey ? Array(metadata.orderingKey) : nil,
            properties: Self.properties(metadata.properties), producerName: metadata.producerName, sequenceID: metadata.sequenceID,
            publishTime: metadata.publishTime, eventTime: metadata.eventTime, redeliveryCount: redeliveryCount
        )
        guard metadata.hasNumMessagesInBatch else { return [base] }

        let count = Int(metadata.numMessagesInBatch)
        guard count >= 0, count <= body.readableBytes + 1 else {
            throw PulsarClientError(.protocolError, "entry \(id) says it holds \(count) messages in \(body.readableBytes) bytes")
        }
        var rest = body
        var messages: [Message] = []
        messages.reserveCapacity(count)
        for index in 0..<count {
            guard let size = rest.readInteger(as: UInt32.self), let header = rest.readSlice(length: Int(size)) else {
                throw PulsarClientError(.protocolError, "the batch of entry \(id) is cut short at message \(index)")
            }
            let single: Pulsar_Proto_SingleMessageMetadata
            do {
                single = try Pulsar_Proto_SingleMessageMetadata(serializedBytes: header.readableBytesSpan)
            } catch {
                throw PulsarClientError(.protocolError, "message \(index) of entry \(id) has a bad header", cause: error)
            }
            guard single.payloadSize >= 0, let bytes = rest.readSlice(length: Int(single.payloadSize)) else {
                throw PulsarClientError(.protocolError, "message \(index) of entry \(id) overruns its batch")
            }
            if Self.isAcknowledged(index, ackSet) || single.compactedOut { continue }
            var message = base
            message.id.batchIndex = Int32(index)
            message.id.batchSize = Int32(count)
            message.payload = bytes
            message.key = single.hasPartitionKey ? single.partitionKey : base.key
            message.orderingKey = single.hasOrderingKey ? Array(single.orderingKey) : base.orderingKey
            message.properties = single.properties.isEmpty ? base.properties : Self.properties(single.properties)
            if single.hasEventTime { message.eventTime = single.eventTime }
            if single.hasSequenceID { message.sequenceID = single.sequenceID } else { message.sequenceID = base.sequenceID + UInt64(index) }
            messages.append(message)
        }
        return messages
    }

    /// Whether the broker marked batch message `index` as acknowledged: `ackSet` keeps a
    /// set bit for each message still to deliver; empty means all are.
    static func isAcknowledged(_ index: Int, _ ackSet: [Int64]) -> Bool {
        guard !ackSet.isEmpty else { return false }
        let word = index / 64
        guard word < ackSet.count else { return true }
        return ackSet[word] & (Int64(1) << Int64(index % 64)) == 0
    }

    private static func decompress(_ payload: PulsarPayload, id: MessageID) throws(PulsarClientError) -> ByteBuffer {
        let metadata = payload.metadata
        guard metadata.compression != .none else { return payload.payload }
        guard let codec = CompressionType(rawValue: Int32(metadata.compression.rawValue)), codec.isSupported else {
            throw PulsarClientError(.compressionFailed, "entry \(id) uses \(metadata.compression) compression, which this client does not read")
        }
        do {
            return try codec.decompress(payload.payload, uncompressedSize: Int(metadata.uncompressedSize))
        } catch {
            throw PulsarClientError(.compressionFailed, "entry \(id) does not decompress", cause: error)
        }
    }

    private static func properties(_ pairs: [Pulsar_Proto_KeyValue]) -> [String: String] {
        guard !pairs.isEmpty else { return [:] }
        var properties: [String: String] = [:]
        for pair in pairs { properties[pair.key] = pair.value }
        return properties
    }
}
