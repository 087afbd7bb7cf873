public import NIOCore

extension CompressionType {
    /// Whether Magnetar can compress and decompress this type.
    public var isSupported: Bool {
        switch self {
        case .none, .lz4, .zstd: true
        case .zlib, .snappy: false
        }
    }

    /// Compresses `source` in this format; `.none` returns it unchanged.
    public func compress(_ source: ByteBuffer, allocator: ByteBufferAllocator = .init()) throws(CodecError) -> ByteBuffer {
        switch self {
        case .none: return source
        case .lz4: return try LZ4.compress(source, allocator: allocator)
        case .zstd: return try Zstd.compress(source, allocator: allocator)
        case .zlib, .snappy: throw CodecError(.compressionFailed, "\(self) compression is not supported")
        }
    }

    /// Decompresses `source`, which must expand to exactly `uncompressedSize` bytes.
    public func decompress(
        _ source: ByteBuffer,
        uncompressedSize: Int,
        limit: Int = DecompressionLimit.defaultMaximum,
        allocator: ByteBufferAllocator = .init()
    ) throws(CodecError) -> ByteBuffer {
        switch self {
        case .none:
            guard source.readableBytes == uncompressedSize else {
                throw CodecError(.sizeMismatch, "payload has \(source.readableBytes) bytes, expected \(uncompressedSize)")
            }
            return source
        case .lz4:
            return try LZ4.decompress(source, uncompressedSize: uncompressedSize, limit: limit, allocator: allocator)
        case .zstd:
            return try Zstd.decompress(source, uncompressedSize: uncompressedSize, limit: limit, allocator: allocator)
        case .zlib, .snappy:
            throw CodecError(.corruptInput, "\(self) decompression is not supported")
        }
    }
}
