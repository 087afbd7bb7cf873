/// CRC-32 as IEEE 802.3, zlib and Java's `java.util.zip.CRC32` compute it (reflected
/// polynomial 0xEDB88320, initial and final value all ones).
///
/// Pulsar hashes topic names with it to place topics in namespace bundles, so values
/// must match zlib's bit for bit: `checksum("123456789".utf8) == 0xCBF4_3926`, and the
/// checksum of no bytes is 0.
public enum CRC32 {
    /// The byte-at-a-time lookup table, computed once.
    private static let table: [UInt32] = (0..<256).map { index in
        var register = UInt32(index)
        for _ in 0..<8 {
            register = register & 1 == 1 ? (register >> 1) ^ 0xEDB8_8320 : register >> 1
        }
        return register
    }

    /// The checksum of `bytes` (an array, a slice, a string's UTF-8 view…).
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        self.table.withUnsafeBufferPointer { table in
            var register: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                register = table[Int((register ^ UInt32(byte)) & 0xFF)] ^ (register >> 8)
            }
            return ~register
        }
    }
}
