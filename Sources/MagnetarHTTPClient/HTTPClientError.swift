/// Why an ``HTTPClient`` request got no response.
///
/// An answer of any status, 4xx and 5xx included, is a response, not an error.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure; codes may be added without breaking anyone.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidURL
            case invalidRequest
            case connectionFailed
            case timedOut
            case responseTooLarge
            case malformedResponse
        }

        private let value: Value

        /// The URL is not `http://host[:port][/path][?query]` (https is not supported).
        public static let invalidURL = Code(value: .invalidURL)
        /// The method is not an HTTP token, or a header's name or value cannot be sent.
        public static let invalidRequest = Code(value: .invalidRequest)
        /// The server could not be reached, or the connection failed while the request
        /// was sent or the response read.
        public static let connectionFailed = Code(value: .connectionFailed)
        /// No complete response arrived within the request's timeout.
        public static let timedOut = Code(value: .timedOut)
        /// The response body was larger than ``HTTPClient/maxResponseBodySize``.
        public static let responseTooLarge = Code(value: .responseTooLarge)
        /// The connection closed before the response was complete, or the response was
        /// not valid HTTP/1.1.
        public static let malformedResponse = Code(value: .malformedResponse)

        public var description: String { "\(self.value)" }
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
