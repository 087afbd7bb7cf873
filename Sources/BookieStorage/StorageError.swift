/// A failure of the bookie's storage: its journal, index or entry logs.
public struct StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable { case io, corrupt, closed, noSpace }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A read, write or sync of the storage files failed.
        public static let io = Code(.io)
        /// Stored bytes fail their checksum or do not parse: they are never served. For the
        /// journal, damage that is not a torn tail (a crash's unacknowledged last batch).
        public static let corrupt = Code(.corrupt)
        /// The journal was closed, or failed earlier and accepts nothing more.
        public static let closed = Code(.closed)
        /// The disk had no room for a file or its preallocation. Nothing was written; a
        /// journal that failed so is opened again once there is room.
        public static let noSpace = Code(.noSpace)

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
