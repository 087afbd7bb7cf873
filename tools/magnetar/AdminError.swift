/// Why a `magnetar admin` command failed, and so the exit status a script sees.
///
/// ``exitStatus`` is 1 when the server answered with an error (its status in
/// ``httpStatus``), 2 for a usage error, 3 when the server could not be reached or did
/// not answer in time.
struct AdminError: Error, Sendable, CustomStringConvertible {
    /// A kind of failure; codes may be added without breaking anyone.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case rejected
            case invalidArgument
            case unreachable
            case invalidResponse
            case configuration
        }

        private let value: Value

        /// The server answered with a 4xx or 5xx status.
        static let rejected = Code(value: .rejected)
        /// An argument is malformed: a topic or namespace name, a size, a time, a URL.
        static let invalidArgument = Code(value: .invalidArgument)
        /// The server could not be reached, or did not answer within the timeout.
        static let unreachable = Code(value: .unreachable)
        /// The server's answer could not be read, or redirected too often.
        static let invalidResponse = Code(value: .invalidResponse)
        /// The configuration file cannot be read or written, or names no such context.
        static let configuration = Code(value: .configuration)

        var description: String { "\(self.value)" }
    }

    var code: Code
    var message: String
    /// The HTTP status of a ``Code/rejected`` answer.
    var httpStatus: Int?
    /// The underlying error, if any.
    var cause: (any Error)?

    init(_ code: Code, _ message: String, httpStatus: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.cause = cause
    }

    /// The process's exit status for this failure.
    var exitStatus: Int32 {
        switch self.code {
        case .invalidArgument: 2
        case .unreachable: 3
        default: 1
        }
    }

    var description: String {
        "\(self.code): \(self.message)" + (self.cause.map { " (\($0))" } ?? "")
    }
}
