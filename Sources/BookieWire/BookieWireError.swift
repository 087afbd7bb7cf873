/// A frame or entry that cannot be decoded. The connection that sent it is answered
/// with `badRequest` where a request id could be read, or closed otherwise.
public struct BookieWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case frameTooLarge, malformedFrame, unsupportedVersion, unknownOperation, corruptEntry
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The frame's length prefix is above the receiver's limit; nothing was buffered.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The frame is shorter than its fields or its fields are inconsistent.
        public static let malformedFrame = Code(.malformedFrame)
        /// The frame's protocol version is not one this side speaks.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The frame names an operation this side does not know.
        public static let unknownOperation = Code(.unknownOperation)
        /// An entry's digest does not match its header and payload.
        public static let corruptEntry = Code(.corruptEntry)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// The request id of the offending frame, when its header could be read.
    public var requestID: UInt64?

    public init(_ code: Code, _ message: String, requestID: UInt64? = nil) {
        self.code = code
        self.message = message
        self.requestID = requestID
    }

    public var description: String { "\(self.code): \(self.message)" }
}
