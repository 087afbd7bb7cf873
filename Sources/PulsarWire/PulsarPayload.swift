internal import Codec
public import NIOCore
public import PulsarProto

/// The part of a SEND or MESSAGE frame after its command: optional broker entry metadata,
/// the checksum, the message metadata and the payload.
///
/// The payload and the checksummed bytes are slices of the received buffer, never copies.
/// A checksum mismatch is not an error here: ``checksumValid`` is false and the receiver
/// answers as Pulsar does (a broker sends SEND_ERROR with `ChecksumError`). In that case
/// ``metadata`` and ``payload`` come from bytes that failed verification and must not be
/// used; ``metadata`` is empty when those bytes did not even parse.
public struct PulsarPayload: Hashable, Sendable {
    /// What the broker attached to the entry, when the frame carries a 0x0e02 block.
    public var brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata?
    /// The parsed `MessageMetadata`.
    public var metadata: Pulsar_Proto_MessageMetadata
    /// The message bytes after the metadata (a whole batch for batched messages).
    public var payload: ByteBuffer
    /// `[u32 metadataSize][MessageMetadata][payload]` exactly as received: the bytes the
    /// checksum covers, and what a broker stores and forwards without re-encoding.
    public var metadataAndPayload: ByteBuffer
    /// The CRC32C the sender put in the frame, or nil when it sent none (protocol < 6).
    public var checksum: UInt32?
    /// Whether ``checksum`` matches ``metadataAndPayload``; true when there is no checksum.
    public var checksumValid: Bool
    /// `[u16 0x0e01][u32 crc32c][u32 metadataSize][metadata][payload]` exactly as
    /// received, when the frame carried a checksum: the layout a broker stores, as a slice
    /// of the received bytes, so storing a message copies nothing.
    public var checksummed: ByteBuffer?

    public init(
        brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata? = nil,
        metadata: Pulsar_Proto_MessageMetadata,
        payload: ByteBuffer,
        metadataAndPayload: ByteBuffer,
        checksum: UInt32?,
        checksumValid: Bool,
        checksummed: ByteBuffer? = nil
    ) {
        self.brokerEntryMetadata = brokerEntryMetadata
        self.metadata = metadata
        self.payload = payload
        self.metadataAndPayload = metadataAndPayload
        self.checksum = checksum
        self.checksumValid = checksumValid
        self.checksummed = checksummed
    }

    /// Parses the bytes that follow a payload command's `BaseCommand` — or a stored entry
    /// in the same layout — keeping slices of `bytes`.
    ///
    /// Throws ``PulsarWireError/Code/malformedFrame`` when a block is cut short or a size
    /// is impossible, and ``PulsarWireError/Code/malformedMetadata`` when metadata that
    /// passed its checksum (or had none) does not parse.
    public init(parsing bytes: ByteBuffer) throws(PulsarWireError) {
        var bytes = bytes

        var brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata?
        if bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) == PulsarFrame.brokerEntryMetadataMagic {
            guard let (_, size) = bytes.readMultipleIntegers(as: (UInt16, UInt32).self) else {
                throw PulsarWireError(.malformedFrame, "the broker entry metadata block is cut short")
            }
            guard let block = bytes.readSlice(length: Int(size)) else {
                throw PulsarWireError(.malformedFrame, "broker entry metadata of \(size) bytes overruns the frame's remaining \(bytes.readableBytes)")
            }
            do {
                brokerEntryMetadata = try Pulsar_Proto_BrokerEntryMetadata.decoded(from: block, partial: false)
            } catch {
                throw PulsarWireError(.malformedMetadata, "the broker entry metadata does not parse: \(error)")
            }
        }

        var checksum: UInt32?
        var checksummed: ByteBuffer?
        if bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) == PulsarFrame.checksumMagic {
            checksummed = bytes
            guard let (_, sent) = bytes.readMultipleIntegers(as: (UInt16, UInt32).self) else {
                throw PulsarWireError(.malformedFrame, "the checksum block is cut short")
            }
            checksum = sent
        }

        let metadataAndPayload = bytes
        let checksumValid = checksum.map { $0 == CRC32C.checksum(metadataAndPayload) } ?? true

        let metadata: Pulsar_Proto_MessageMetadata
        let payload: ByteBuffer
        do throws(PulsarWireError) {
            guard let metadataSize = bytes.readInteger(as: UInt32.self) else {
                throw PulsarWireError(.malformedFrame, "a payload of \(bytes.readableBytes) bytes cannot hold the metadata size")
            }
            guard let metadataBytes = bytes.readSlice(length: Int(metadataSize)) else {
                throw PulsarWireError(.malformedFrame, "metadata of \(metadataSize) bytes overruns the frame's remaining \(bytes.readableBytes)")
            }
            do {
                metadata = try Pulsar_Proto_MessageMetadata.decoded(from: metadataBytes, partial: false)
            } catch {
                throw PulsarWireError(.malformedMetadata, "the message metadata does not parse: \(error)")
            }
            payload = bytes
        } catch {
            // Bytes that failed their checksum may be garbage anywhere; that is reported
            // through checksumValid, not as a broken frame.
            guard !checksumValid else { throw error }
            metadata = Pulsar_Proto_MessageMetadata()
            payload = metadataAndPayload
        }

        self.init(
            brokerEntryMetadata: brokerEntryMetadata,
            metadata: metadata,
            payload: payload,
            metadataAndPayload: metadataAndPayload,
            checksum: checksum,
            checksumValid: checksumValid,
            checksummed: checksummed
        )
    }
}
