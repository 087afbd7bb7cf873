import Codec
import NIOCore
import PulsarProto
import PulsarWire
import SwiftProtobuf

/// The bytes a topic stores per entry: `[u16 0x0e01][u32 crc32c][u32 metadataSize]
/// [MessageMetadata][payload]`, the same layout as on the wire, so dispatch forwards it
/// without re-encoding.
enum StoredEntry {
    /// The entry for a published message. When `compression` is set and the client sent
    /// the batch uncompressed, the payload is compressed and the metadata (compression,
    /// uncompressed size) and checksum are rewritten; otherwise the received bytes are
    /// stored as they are — the slice of the received frame when it carried a checksum,
    /// with no copy. Encrypted and chunked messages are never recompressed: their
    /// clients decompress after decrypting or reassembling.
    static func encode(_ payload: PulsarPayload, compression: CompressionType = .none) -> ByteBuffer {
        let metadata = payload.metadata
        if compression != .none, metadata.compression == .none, metadata.encryptionKeys.isEmpty, !metadata.hasNumChunksFromMsg,
            let compressed = try? compression.compress(payload.payload)
        {
            var rewritten = metadata
            rewritten.compression = Pulsar_Proto_CompressionType(rawValue: Int(compression.rawValue)) ?? .none
            rewritten.uncompressedSize = UInt32(payload.payload.readableBytes)
            if let encoded = try? rewritten.serializedBytes() as [UInt8] {
                var entry = ByteBuffer()
                entry.reserveCapacity(10 + encoded.count + compressed.readableBytes)
                entry.writeInteger(PulsarFrame.checksumMagic)
                let checksumIndex = entry.writerIndex
                entry.writeInteger(UInt32(0))
                entry.writeInteger(UInt32(encoded.count))
                entry.writeBytes(encoded)
                entry.writeImmutableBuffer(compressed)
                // Through a pointer: a slice would share the storage and make the write copy it.
                let checksum = entry.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(checksumIndex + 4)...])) }
                entry.setInteger(checksum, at: checksumIndex)
                return entry
            }
        }
        if let received = payload.checksummed, payload.checksumValid {
            return received
        }
        var entry = ByteBuffer()
        entry.reserveCapacity(6 + payload.metadataAndPayload.readableBytes)
        entry.writeInteger(PulsarFrame.checksumMagic)
        entry.writeInteger(payload.checksum ?? CRC32C.checksum(payload.metadataAndPayload))
        entry.writeImmutableBuffer(payload.metadataAndPayload)
        return entry
    }
}
