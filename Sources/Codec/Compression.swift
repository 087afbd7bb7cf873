/// The compression of a Pulsar batch payload, with Pulsar's wire values
/// (`MessageMetadata.compression`).
public enum CompressionType: Int32, Sendable, Hashable, CaseIterable {
    case none = 0
    case lz4 = 1
    case zlib = 2
    case zstd = 3
    case snappy = 4
}

/// Limits that protect decompression from inputs that lie about their size.
public enum DecompressionLimit {
    /// The largest uncompressed payload accepted by default: 64 MiB, well above Pulsar's
    /// 5 MiB message limit so that highly compressible batches still decode.
    public static let defaultMaximum = 64 << 20
}
