import Codec
import Foundation
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// A stored entry opened for an operator (peek, examine): its metadata, and its payload
/// decompressed. A batch's payload is the batch as stored (its messages' framing kept),
/// as Pulsar's admin API returns it.
struct StoredMessage: Sendable {
    var position: Position
    var metadata: Pulsar_Proto_MessageMetadata
    var payload: ByteBuffer

    init(position: Position, entry: ByteBuffer) throws {
        let parsed = try PulsarPayload(parsing: entry)
        self.position = position
        self.metadata = parsed.metadata
        guard parsed.metadata.compression != .none else {
            self.payload = parsed.payload
            return
        }
        guard let codec = CompressionType(rawValue: Int32(parsed.metadata.compression.rawValue)) else {
            throw BrokerError(.unknown, "entry \(position) has an unknown compression")
        }
        self.payload = try codec.decompress(parsed.payload, uncompressedSize: Int(parsed.metadata.uncompressedSize))
    }

    /// Pulsar's headers for a message returned by the admin API.
    var headers: [(String, String)] {
        var headers = [
            ("X-Pulsar-Message-ID", "\(self.position.ledgerID):\(self.position.entryID)"),
            ("X-Pulsar-publish-time", TopicStats.timestamp(Date(timeIntervalSince1970: Double(self.metadata.publishTime) / 1000))),
            ("X-Pulsar-producer-name", self.metadata.producerName),
            ("X-Pulsar-sequence-id", "\(self.metadata.sequenceID)"),
        ]
        if self.metadata.hasNumMessagesInBatch { headers.append(("X-Pulsar-num-batch-message", "\(self.metadata.numMessagesInBatch)")) }
        if self.metadata.hasPartitionKey { headers.append(("X-Pulsar-partition-key", self.metadata.partitionKey)) }
        for property in self.metadata.properties { headers.append(("X-Pulsar-PROPERTY-\(property.key)", property.value)) }
        return headers
    }
}
