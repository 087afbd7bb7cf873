internal import CLZ4
public import NIOCore

/// LZ4 raw blocks (no frame header), the format of Pulsar's `LZ4` compression type.
///
/// A raw block does not record its uncompressed size; Pulsar carries it in
/// `MessageMetadata.uncompressed_size`, and decompression insists on exactly that size.
public enum LZ4 {
    /// Compresses the readable bytes of `source` into a new buffer.
    public static func compress(_ source: ByteBuffer, allocator: ByteBufferAllocator = .init()) throws(CodecError) -> ByteBuffer {
        let count = source.readableBytes
        guard count <= Int(LZ4_MAX_INPUT_SIZE) else {
            throw CodecError(.limitExceeded, "LZ4 input of \(count) bytes is above the format's maximum")
        }
        let bound = Int(LZ4_compressBound(Int32(count)))
        var output = allocator.buffer(capacity: bound)
        let written = source.withUnsafeReadableBytes { input in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                Int(
                    LZ4_compress_default(
                        input.baseAddress?.assumingMemoryBound(to: CChar.self),
                        out.baseAddress?.assumingMemoryBound(to: CChar.self),
                        Int32(count),
                        Int32(out.count)
                    )
                )
            }
        }
        guard written > 0 || count == 0 else {
            throw CodecError(.compressionFailed, "LZ4 compression of \(count) bytes failed")
        }
        return output
    }

    /// Decompresses a raw block that must expand to exactly `uncompressedSize` bytes.
    ///
    /// - Throws: `limitExceeded` when `uncompressedSize` is negative or above `limit`
    ///   (nothing is allocated then), `corruptInput` for a malformed block, and
    ///   `sizeMismatch` when the block expands to a different size.
    public static func decompress(
        _ source: ByteBuffer,
        uncompressedSize: Int,
        limit: Int = DecompressionLimit.defaultMaximum,
        allocator: ByteBufferAllocator = .init()
    ) throws(CodecError) -> ByteBuffer {
        guard uncompressedSize >= 0, uncompressedSize <= limit else {
            throw CodecError(.limitExceeded, "stated uncompressed size \(uncompressedSize) is outside 0...\(limit)")
        }
        guard source.readableBytes <= Int(Int32.max) else {
            throw CodecError(.limitExceeded, "LZ4 block of \(source.readableBytes) bytes is too large")
        }
        var output = allocator.buffer(capacity: uncompressedSize)
        let produced = source.withUnsafeReadableBytes { input in
            var produced = 0
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: uncompressedSize) { out in
                produced = Int(
                    LZ4_decompress_safe(
                        input.baseAddress?.assumingMemoryBound(to: CChar.self),
                        out.baseAddress?.assumingMemoryBound(to: CChar.self),
                        Int32(input.count),
                        Int32(uncompressedSize)
                    )
                )
                return max(produced, 0)
            }
            return produced
        }
        guard produced >= 0 else {
            throw CodecError(.corruptInput, "LZ4 block is malformed or expands beyond \(uncompressedSize) bytes")
        }
        guard produced == uncompressedSize else {
            throw CodecError(.sizeMismatch, "LZ4 block expands to \(produced) bytes, expected \(uncompressedSize)")
        }
        return output
    }
}
