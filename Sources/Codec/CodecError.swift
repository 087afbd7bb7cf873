/// An error from checksumming, compressing or decompressing bytes.
///
/// Decoding never trusts its input: corrupt, truncated or size-lying data produces one of
/// these errors rather than a crash or an unbounded allocation.
public struct CodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case corruptInput
            case sizeMismatch
            case limitExceeded
            case compressionFailed
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The compressed bytes are not a valid block or frame.
        public static let corruptInput = Code(.corruptInput)
        /// The data decompressed to a size other than the one it was said to have.
        public static let sizeMismatch = Code(.sizeMismatch)
        /// The stated size is negative or above the caller's cap.
        public static let limitExceeded = Code(.limitExceeded)
        /// The compressor itself reported a failure.
        public static let compressionFailed = Code(.compressionFailed)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
