import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// The bounds a client's commands are held to where they enter the broker: every number a
/// command carries is checked against them before anything acts on it, and a command
/// outside them is answered with Pulsar's error for its type and changes nothing.
struct CommandLimits: Sendable, Equatable {
    /// The largest message (payload and metadata) a producer may send, in bytes:
    /// Pulsar's `maxMessageSize`, 5 MiB by default.
    var maxMessageSize: Int = 5 << 20

    /// The fewest bytes one message of a batch takes: its 4-byte metadata size and a
    /// `SingleMessageMetadata` holding only its 2-byte `payload_size`.
    static let smallestBatchedMessage = 6

    /// The most messages a batch of ``maxMessageSize`` bytes can hold.
    var maxMessagesPerBatch: Int { self.maxMessageSize / Self.smallestBatchedMessage }

    /// The most 64-bit words an ack set (one bit per message of a batch) may have.
    var maxAckSetWords: Int { (self.maxMessagesPerBatch + 63) / 64 }

    /// The largest message sent in chunks (its `uncompressed_size` and
    /// `total_chunk_msg_size`, which a consumer allocates to put it back together): 1 GiB.
    static let maxChunkedMessageSize = 1 << 30

    /// The most message ids one ACK or REDELIVER may name.
    static let maxMessageIDsPerCommand = 100_000
}

/// Where a SEEK or a reader's start message id points.
enum SeekTarget: Equatable {
    case earliest
    case latest
    case position(Position)
}

extension Pulsar_Proto_MessageIdData {
    /// The entry an ACK or a REDELIVER names, when its ledger and entry ids are both in
    /// 0...Int64.max (Pulsar's ids are signed 64-bit numbers); nil for anything else.
    var entryPosition: Position? {
        guard self.ledgerID <= UInt64(Int64.max), self.entryID <= UInt64(Int64.max) else { return nil }
        return Position(ledgerID: Int64(self.ledgerID), entryID: Int64(self.entryID))
    }

    /// Where a SEEK or a start message id points: ledger -1 is the earliest message (as
    /// Pulsar's `MessageId.earliest`, (-1, -1)), ledger Int64.max the latest; otherwise a
    /// position with ledger 0...Int64.max and entry -1...Int64.max (entry -1 being the
    /// start of its ledger). Nil for anything else.
    var seekTarget: SeekTarget? {
        if self.ledgerID == .max { return .earliest }
        if self.ledgerID == UInt64(Int64.max) { return .latest }
        guard self.ledgerID <= UInt64(Int64.max) else { return nil }
        let entry = Int64(bitPattern: self.entryID)
        guard entry >= -1 else { return nil }
        return .position(Position(ledgerID: Int64(self.ledgerID), entryID: max(0, entry)))
    }

    /// Why this id cannot be acknowledged or redelivered, or nil when it can.
    func refusalAsAcked(_ limits: CommandLimits) -> String? {
        guard self.entryPosition != nil else {
            return "message id \(self.signedDescription) is not an entry (ids are 0 to \(Int64.max))"
        }
        if self.ackSet.count > limits.maxAckSetWords {
            return "an ack set of \(self.ackSet.count) words is more than a batch can hold (\(limits.maxAckSetWords))"
        }
        return self.batchIndexRefusal(limits)
    }

    /// Why this id cannot be a SEEK target or a start message id, or nil when it can.
    func refusalAsTarget(_ limits: CommandLimits) -> String? {
        guard self.seekTarget != nil else {
            return "message id \(self.signedDescription) is not a position (ledger -1 to \(Int64.max), entry -1 or more)"
        }
        return self.batchIndexRefusal(limits)
    }

    private func batchIndexRefusal(_ limits: CommandLimits) -> String? {
        guard self.hasBatchIndex, self.batchIndex < -1 || Int(self.batchIndex) >= limits.maxMessagesPerBatch else { return nil }
        return "batch index \(self.batchIndex) is outside -1..<\(limits.maxMessagesPerBatch)"
    }

    private var signedDescription: String { "\(Int64(bitPattern: self.ledgerID)):\(Int64(bitPattern: self.entryID))" }
}

extension CommandLimits {
    /// Why a SEND's message cannot be stored, or nil when it can: a sequence id above
    /// Int64.max, an uncompressed size above ``maxMessageSize``, or a batch count below 1
    /// or above what its uncompressed bytes can hold. Stored, such a message would reach
    /// every consumer of the topic, and Pulsar's clients that believe its sizes grow
    /// without bound or crash on it.
    func refusal(_ send: Pulsar_Proto_CommandSend, _ payload: PulsarPayload) -> String? {
        let metadata = payload.metadata
        let limit = UInt64(Int64.max)
        if send.sequenceID > limit || (send.hasHighestSequenceID && send.highestSequenceID > limit)
            || metadata.sequenceID > limit || (metadata.hasHighestSequenceID && metadata.highestSequenceID > limit)
        {
            return "sequence ids are 0 to \(Int64.max)"
        }
        // A chunk names the size of the whole message it is part of.
        let chunked = metadata.hasChunkID || metadata.hasNumChunksFromMsg
        if chunked, metadata.totalChunkMsgSize < 0 || metadata.chunkID < 0 || (metadata.hasNumChunksFromMsg && metadata.chunkID >= metadata.numChunksFromMsg) {
            return "chunk \(metadata.chunkID) of \(metadata.numChunksFromMsg), of a message of \(metadata.totalChunkMsgSize) bytes"
        }
        let largest = chunked ? Self.maxChunkedMessageSize : self.maxMessageSize
        if Int(metadata.uncompressedSize) > largest || Int(metadata.totalChunkMsgSize) > largest {
            return "an uncompressed size of \(metadata.uncompressedSize) bytes is above the maximum message size \(largest)"
        }
        let compressed = metadata.hasCompression && metadata.compression != .none
        let bytes = compressed ? Int(metadata.uncompressedSize) : payload.payload.readableBytes
        if metadata.hasNumMessagesInBatch {
            let count = Int(metadata.numMessagesInBatch)
            guard count >= 1 else { return "a batch of \(count) messages" }
            // A single message may be any size; only a batch frames each of its messages.
            if count > 1, count > bytes / Self.smallestBatchedMessage {
                return "a batch of \(count) messages cannot fit in \(bytes) bytes"
            }
        }
        return nil
    }
}
