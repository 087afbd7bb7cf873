/// A failure of the bookie's ledger storage: its index or entry logs.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case io, corrupt }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A read, write or sync of the storage files failed.
        public static let io = Code(.io)
        /// Stored bytes fail their checksum or do not parse: they are never served.
        public static let corrupt = Code(.corrupt)

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
