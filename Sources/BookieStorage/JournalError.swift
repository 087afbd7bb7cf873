/// A journal failure: the disk refused a write or sync, or replay found damage it cannot
/// attribute to a crash.
public struct JournalError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case io, corrupt, closed }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A system call on the journal's files failed.
        public static let io = Code(.io)
        /// Replay found a damaged batch followed by good ones: not a torn tail.
        public static let corrupt = Code(.corrupt)
        /// The journal was closed, or failed earlier and accepts nothing more.
        public static let closed = Code(.closed)

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
