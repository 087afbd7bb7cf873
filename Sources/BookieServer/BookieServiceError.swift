/// Why a part of a running bookie stopped: its listening socket closed, the store could
/// not be flushed or closed at the end.
public struct BookieServiceError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case serverStopped, storeClose }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A listening socket (bookie protocol or HTTP) closed while the bookie was running.
        public static let serverStopped = Code(.serverStopped)
        /// The final flush or the close of the store failed.
        public static let storeClose = Code(.storeClose)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "\(self.code): \(self.message)" + (self.cause.map { " (\($0))" } ?? "")
    }
}
