internal import Codec

/// How a producer compresses each batch (the whole batch as one buffer).
public enum MessageCompression: String, Sendable, Hashable, CaseIterable {
    case none
    /// LZ4 raw block, as Pulsar's clients write it.
    case lz4
    /// A standard zstd frame.
    case zstd

    var codec: CompressionType {
        switch self {
        case .none: .none
        case .lz4: .lz4
        case .zstd: .zstd
        }
    }
}
