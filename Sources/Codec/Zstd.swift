internal import CZstd
public import NIOCore
import Synchronization

/// Zstandard frames, the format of Pulsar's `ZSTD` compression type.
///
/// Decompression is single-shot into a buffer of the stated size, so a frame that claims a
/// huge window or content size cannot make it allocate more than the caller allowed.
public enum Zstd {
    /// The compression level Pulsar's clients use.
    public static let defaultLevel: Int32 = 3

    /// Compresses the readable bytes of `source` into one frame.
    public static func compress(
        _ source: ByteBuffer,
        level: Int32 = Zstd.defaultLevel,
        allocator: ByteBufferAllocator = .init()
    ) throws(CodecError) -> ByteBuffer {
        let bound = ZSTD_compressBound(source.readableBytes)
        var output = allocator.buffer(capacity: bound)
        var status = 0
        _ = source.withUnsafeReadableBytes { input in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out in
                status = compressionContexts.withContext { context in
                    ZSTD_compressCCtx(context, out.baseAddress, out.count, input.baseAddress, input.count, level)
                }
                return ZSTD_isError(status) != 0 ? 0 : status
            }
        }
        if ZSTD_isError(status) != 0 {
            throw CodecError(.compressionFailed, "ZSTD compression failed: \(Self.errorName(status))")
        }
        return output
    }

    /// Decompresses frames that must expand to exactly `uncompressedSize` bytes.
    ///
    /// - Throws: `limitExceeded` when `uncompressedSize` is negative or above `limit`,
    ///   `sizeMismatch` when the frame header or the output disagrees with it, and
    ///   `corruptInput` for anything malformed.
    public static func decompress(
        _ source: ByteBuffer,
        uncompressedSize: Int,
        limit: Int = DecompressionLimit.defaultMaximum,
        allocator: ByteBufferAllocator = .init()
    ) throws(CodecError) -> ByteBuffer {
        guard uncompressedSize >= 0, uncompressedSize <= limit else {
            throw CodecError(.limitExceeded, "stated uncompressed size \(uncompressedSize) is outside 0...\(limit)")
        }
        let declared = source.withUnsafeReadableBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        switch declared {
        case ZSTD_CONTENTSIZE_ERROR:
            throw CodecError(.corruptInput, "not a ZSTD frame")
        case ZSTD_CONTENTSIZE_UNKNOWN:
            break
        default:
            guard declared == UInt64(uncompressedSize) else {
                throw CodecError(.sizeMismatch, "ZSTD frame declares \(declared) bytes, expected \(uncompressedSize)")
            }
        }
        var output = allocator.buffer(capacity: uncompressedSize)
        var status = 0
        _ = source.withUnsafeReadableBytes { input in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: uncompressedSize) { out in
                status = decompressionContexts.withContext { context in
                    ZSTD_decompressDCtx(context, out.baseAddress, uncompressedSize, input.baseAddress, input.count)
                }
                return ZSTD_isError(status) != 0 ? 0 : status
            }
        }
        if ZSTD_isError(status) != 0 {
            let code = ZSTD_getErrorCode(status)
            let kind: CodecError.Code = code == ZSTD_error_dstSize_tooSmall ? .sizeMismatch : .corruptInput
            throw CodecError(kind, "ZSTD decompression failed: \(Self.errorName(status))")
        }
        guard status == uncompressedSize else {
            throw CodecError(.sizeMismatch, "ZSTD frame expands to \(status) bytes, expected \(uncompressedSize)")
        }
        return output
    }

    private static func errorName(_ status: Int) -> String {
        String(cString: ZSTD_getErrorName(status))
    }
}

/// ZSTD contexts kept for reuse: making one costs more than compressing a small batch.
/// A caller borrows one for a single call, so no context is ever used by two threads.
private final class ContextPool: Sendable {
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let idle = Mutex<[Context]>([])
    private let make: @Sendable () -> OpaquePointer?
    private let free: @Sendable (OpaquePointer) -> Void
    private let limit = 16

    init(make: @escaping @Sendable () -> OpaquePointer?, free: @escaping @Sendable (OpaquePointer) -> Void) {
        self.make = make
        self.free = free
    }

    func withContext(_ body: (OpaquePointer) -> Int) -> Int {
        guard let context = self.idle.withLock({ $0.popLast() })?.pointer ?? self.make() else {
            return ZSTD_MEMORY_ALLOCATION_ERROR
        }
        let result = body(context)
        let kept = self.idle.withLock { idle in
            guard idle.count < self.limit else { return false }
            idle.append(Context(pointer: context))
            return true
        }
        if !kept { self.free(context) }
        return result
    }
}

/// `(size_t)-ZSTD_error_memory_allocation`, the status ZSTD itself returns for that failure.
private let ZSTD_MEMORY_ALLOCATION_ERROR = Int(bitPattern: UInt(bitPattern: -Int(ZSTD_error_memory_allocation.rawValue)))

private let compressionContexts = ContextPool(make: { ZSTD_createCCtx() }, free: { ZSTD_freeCCtx($0) })
private let decompressionContexts = ContextPool(make: { ZSTD_createDCtx() }, free: { ZSTD_freeDCtx($0) })
