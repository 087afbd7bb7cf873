internal import CISAL
public import NIOCore

/// CRC32C (Castagnoli), the checksum of Pulsar frames and of Magnetar's bookie entries.
///
/// Computed by ISA-L's `crc32_iscsi`, which uses the SSE4.2 `crc32` instruction and
/// carry-less multiplication folding where the CPU has them. Values are the standard
/// CRC32C: `checksum("123456789") == 0xE306_9283`.
public enum CRC32C {
    /// The checksum of `bytes`, continuing from the checksum of the bytes before them.
    ///
    /// `checksum(b, continuing: checksum(a))` equals the checksum of `a` followed by `b`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing previous: UInt32 = 0) -> UInt32 {
        ~self.update(~previous, bytes)
    }

    /// The checksum of the readable bytes of `buffer`, continuing from `previous`.
    @inlinable
    public static func checksum(_ buffer: ByteBuffer, continuing previous: UInt32 = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { self.checksum($0, continuing: previous) }
    }

    /// The checksum of `bytes` (an array, a slice, a string's UTF-8 view…).
    @inlinable
    public static func checksum(_ bytes: some Sequence<UInt8>, continuing previous: UInt32 = 0) -> UInt32 {
        if let checksum = bytes.withContiguousStorageIfAvailable({ self.checksum(UnsafeRawBufferPointer($0), continuing: previous) }) {
            return checksum
        }
        return Array(bytes).withUnsafeBytes { self.checksum($0, continuing: previous) }
    }

    /// Runs the raw register update over `bytes`, in pieces that fit ISA-L's `int` length.
    @usableFromInline
    static func update(_ register: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var base = bytes.baseAddress else { return register }
        var remaining = bytes.count
        var register = register
        while remaining > 0 {
            let piece = min(remaining, Int(Int32.max) & ~0xFFFF)
            register = crc32_iscsi(
                UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)),
                Int32(piece),
                register
            )
            base += piece
            remaining -= piece
        }
        return register
    }
}
