public import PulsarProto

/// Why a client operation failed.
///
/// ``code`` says what kind of failure it is; ``serverError`` carries the broker's own
/// error when the broker refused the request; ``cause`` keeps an underlying error (a
/// socket error, a codec error). ``isRetriable`` tells whether reconnecting may succeed.
public struct PulsarClientError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidArgument, invalidServiceURL, connectionFailed, connectionClosed, timeout, protocolError
            case brokerError, lookupFailed, clientClosed, producerClosed, consumerClosed, messageTooBig
            case compressionFailed, cancelled, tooManyRedirects
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// An argument or configuration value is out of range or malformed.
        public static let invalidArgument = Code(.invalidArgument)
        /// The service URL is not `pulsar://host:port[,host:port…]`.
        public static let invalidServiceURL = Code(.invalidServiceURL)
        /// A TCP connection or the CONNECT handshake failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection closed while a request was waiting for its answer.
        public static let connectionClosed = Code(.connectionClosed)
        /// The operation did not finish within its timeout.
        public static let timeout = Code(.timeout)
        /// The broker sent something this client cannot accept; the connection is closed.
        public static let protocolError = Code(.protocolError)
        /// The broker answered with an error (see ``PulsarClientError/serverError``).
        public static let brokerError = Code(.brokerError)
        /// The topic lookup failed.
        public static let lookupFailed = Code(.lookupFailed)
        /// The client was closed.
        public static let clientClosed = Code(.clientClosed)
        /// The producer was closed, or failed for good.
        public static let producerClosed = Code(.producerClosed)
        /// The consumer was closed, or failed for good.
        public static let consumerClosed = Code(.consumerClosed)
        /// A message is larger than the broker's maximum message size.
        public static let messageTooBig = Code(.messageTooBig)
        /// A batch could not be compressed, or a received one decompressed.
        public static let compressionFailed = Code(.compressionFailed)
        /// The waiting task was cancelled.
        public static let cancelled = Code(.cancelled)
        /// A lookup was redirected more times than allowed.
        public static let tooManyRedirects = Code(.tooManyRedirects)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// The broker's error, for ``Code/brokerError`` and ``Code/lookupFailed``.
    public var serverError: Pulsar_Proto_ServerError?
    /// The underlying error, when there is one.
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, serverError: Pulsar_Proto_ServerError? = nil, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.serverError = serverError
        self.cause = cause
    }

    public var description: String {
        var text = "\(self.code): \(self.message)"
        if let serverError = self.serverError { text += " (\(serverError))" }
        if let cause = self.cause { text += " [\(cause)]" }
        return text
    }

    /// Whether trying again later (after a reconnect) may succeed: connection trouble,
    /// timeouts, and broker errors that mean "not now".
    public var isRetriable: Bool {
        switch self.code {
        case .connectionFailed, .connectionClosed, .timeout, .protocolError, .tooManyRedirects:
            return true
        case .brokerError, .lookupFailed:
            guard let serverError = self.serverError else { return true }
            switch serverError {
            case .serviceNotReady, .metadataError, .persistenceError, .tooManyRequests, .unknownError, .producerBusy,
                .consumerBusy, .producerBlockedQuotaExceededError, .producerBlockedQuotaExceededException:
                return true
            default:
                return false
            }
        default:
            return false
        }
    }
}
