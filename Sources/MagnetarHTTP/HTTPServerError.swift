/// Why an ``HTTPServer`` has no port.
public struct HTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A kind of failure; codes may be added without breaking anyone.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case stoppedBeforeBinding
        }

        private let value: Value

        /// ``HTTPServer/run()`` returned (stopped or cancelled) before its socket was bound.
        public static let stoppedBeforeBinding = Code(value: .stoppedBeforeBinding)

        public var description: String { "\(self.value)" }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}
