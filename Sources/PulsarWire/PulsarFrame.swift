internal import Codec
public import NIOCore
public import PulsarProto

/// One frame of the Pulsar binary protocol: a command and, for SEND and MESSAGE, a payload.
///
/// All integers are big-endian. A simple command is
///
///     [u32 total = 4 + commandSize][u32 commandSize][BaseCommand]
///
/// and a payload command continues after the `BaseCommand` with
///
///     [u16 0x0e02][u32 size][BrokerEntryMetadata]      (optional, broker to client)
///     [u16 0x0e01][u32 CRC32C]                         (optional, protocol version >= 6)
///     [u32 metadataSize][MessageMetadata][payload]     (what the CRC32C covers)
///
/// with `total` counting every byte after itself. Decoding keeps the payload as a slice
/// of the received buffer (see ``PulsarFrameDecoder``); the `write` functions encode.
public struct PulsarFrame: Hashable, Sendable {
    /// The magic number that opens the checksum block.
    public static let checksumMagic: UInt16 = 0x0E01
    /// The magic number that opens the broker entry metadata block.
    public static let brokerEntryMetadataMagic: UInt16 = 0x0E02
    /// The largest message a client may send unless configured otherwise: 5 MiB, the
    /// default of Pulsar's `maxMessageSize` and of its clients.
    public static let defaultMaxMessageSize = 5 << 20
    /// How much a frame may exceed the message size: room for the command, the metadata
    /// and the block headers (10 KiB, as Pulsar's brokers allow).
    public static let framePadding = 10 << 10

    /// The command; `command.type` says which of its fields is set.
    public var command: Pulsar_Proto_BaseCommand
    /// The metadata and payload that follow SEND and MESSAGE commands; nil for others.
    public var payload: PulsarPayload?

    public init(command: Pulsar_Proto_BaseCommand, payload: PulsarPayload? = nil) {
        self.command = command
        self.payload = payload
    }

    /// The largest `total` a receiver accepts when it announces `maxMessageSize` in
    /// CONNECTED: the message size plus ``framePadding``.
    public static func maximumFrameSize(forMessageSize maxMessageSize: Int) -> Int {
        maxMessageSize + Self.framePadding
    }
}

// MARK: - Encoding

extension PulsarFrame {
    /// Appends this frame to `buffer`.
    ///
    /// The payload is written as received: its ``PulsarPayload/metadataAndPayload`` bytes
    /// unchanged, with its ``PulsarPayload/checksum`` (computed when it has none).
    public func write(into buffer: inout ByteBuffer) throws(PulsarWireError) {
        guard let payload = self.payload else {
            try Self.write(command: self.command, into: &buffer)
            return
        }
        try Self.write(
            command: self.command,
            metadataAndPayload: payload.metadataAndPayload,
            checksum: payload.checksum,
            brokerEntryMetadata: payload.brokerEntryMetadata,
            into: &buffer
        )
    }

    /// Appends a simple command (one without payload) to `buffer`.
    ///
    /// Throws ``PulsarWireError/Code/incompleteMessage`` when a required field is unset;
    /// nothing is written then.
    public static func write(command: Pulsar_Proto_BaseCommand, into buffer: inout ByteBuffer) throws(PulsarWireError) {
        let encoded = try command.encoded(describing: "a \(command.typeDescription) command")
        buffer.writeMultipleIntegers(UInt32(4 + encoded.count), UInt32(encoded.count))
        buffer.writeBytes(encoded)
    }

    /// Appends a payload command built from `metadata` and `payload`, computing its CRC32C.
    ///
    /// Used by producers and by a broker that has changed the metadata (for example after
    /// compressing a batch). Nothing is written when a message lacks a required field.
    public static func write(
        command: Pulsar_Proto_BaseCommand,
        metadata: Pulsar_Proto_MessageMetadata,
        payload: ByteBuffer,
        brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata? = nil,
        into buffer: inout ByteBuffer
    ) throws(PulsarWireError) {
        let encodedMetadata = try metadata.encoded(describing: "the message metadata")
        let metadataAndPayloadSize = 4 + encodedMetadata.count + payload.readableBytes
        let checksumIndex = try Self.writeHeader(
            command: command,
            metadataAndPayloadSize: metadataAndPayloadSize,
            checksum: 0,
            brokerEntryMetadata: brokerEntryMetadata,
            into: &buffer
        )
        let coveredStart = buffer.writerIndex
        buffer.writeInteger(UInt32(encodedMetadata.count))
        buffer.writeBytes(encodedMetadata)
        buffer.writeImmutableBuffer(payload)
        let coveredOffset = coveredStart - buffer.readerIndex
        let checksum = buffer.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[coveredOffset...]))
        }
        buffer.setInteger(checksum, at: checksumIndex)
    }

    /// Appends a payload command whose `[u32 metadataSize][MessageMetadata][payload]`
    /// bytes are already encoded, such as an entry read back from storage.
    ///
    /// - Parameter checksum: the CRC32C of `metadataAndPayload` when it is known (stored
    ///   with the entry); nil computes it.
    public static func write(
        command: Pulsar_Proto_BaseCommand,
        metadataAndPayload: ByteBuffer,
        checksum: UInt32? = nil,
        brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata? = nil,
        into buffer: inout ByteBuffer
    ) throws(PulsarWireError) {
        try Self.writeHeader(
            command: command,
            metadataAndPayloadSize: metadataAndPayload.readableBytes,
            checksum: checksum ?? CRC32C.checksum(metadataAndPayload),
            brokerEntryMetadata: brokerEntryMetadata,
            into: &buffer
        )
        buffer.writeImmutableBuffer(metadataAndPayload)
    }

    /// Appends everything of a payload command up to and including its checksum; the
    /// caller sends the `metadataAndPayloadSize` bytes that follow, for example as a
    /// separate buffer of a vectored write so the payload is never copied.
    ///
    /// - Returns: the index in `buffer` of the checksum, for callers that fill it in later.
    @discardableResult
    public static func writeHeader(
        command: Pulsar_Proto_BaseCommand,
        metadataAndPayloadSize: Int,
        checksum: UInt32,
        brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata? = nil,
        into buffer: inout ByteBuffer
    ) throws(PulsarWireError) -> Int {
        let encodedCommand = try command.encoded(describing: "a \(command.typeDescription) command")
        let encodedEntryMetadata = try brokerEntryMetadata.map { entryMetadata throws(PulsarWireError) in
            try entryMetadata.encoded(describing: "the broker entry metadata")
        }
        let entryMetadataBlock = encodedEntryMetadata.map { 2 + 4 + $0.count } ?? 0
        let total = 4 + encodedCommand.count + entryMetadataBlock + 2 + 4 + metadataAndPayloadSize
        guard total <= UInt32.max else {
            throw PulsarWireError(.frameTooLarge, "a frame of \(total) bytes does not fit the 32-bit size field")
        }
        buffer.writeMultipleIntegers(UInt32(total), UInt32(encodedCommand.count))
        buffer.writeBytes(encodedCommand)
        if let encodedEntryMetadata {
            buffer.writeMultipleIntegers(Self.brokerEntryMetadataMagic, UInt32(encodedEntryMetadata.count))
            buffer.writeBytes(encodedEntryMetadata)
        }
        buffer.writeInteger(Self.checksumMagic)
        let checksumIndex = buffer.writerIndex
        buffer.writeInteger(checksum)
        return checksumIndex
    }
}
