/// An error from a metadata store operation.
///
/// The `code` says what happened in terms every backend shares; `message` says it for a
/// person, naming the key where there is one.
public struct MetadataError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case badVersion, notFound, alreadyExists, sessionExpired, unavailable, invalidArgument
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The key exists, but not at the version the operation expected.
        public static let badVersion = Code(.badVersion)
        /// The key (or the session, or the watch's history) does not exist.
        public static let notFound = Code(.notFound)
        /// The operation expected the key to be absent, and it exists.
        public static let alreadyExists = Code(.alreadyExists)
        /// The session has expired or was closed; its ephemeral keys are gone.
        public static let sessionExpired = Code(.sessionExpired)
        /// The store could not be reached or did not answer in time. The operation may or
        /// may not have been applied.
        public static let unavailable = Code(.unavailable)
        /// The request itself is malformed: a bad key, a bad TTL, an unknown URL scheme.
        public static let invalidArgument = Code(.invalidArgument)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// For a SQLite store: the database was locked by another process, and asking again
    /// later may succeed (unlike a file that is not a database).
    var locked = false

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }

    static func badVersion(_ key: String, expected: Int64, actual: Int64) -> Self {
        .init(.badVersion, "\(key) is at version \(actual), expected \(expected)")
    }

    static func notFound(_ key: String) -> Self { .init(.notFound, "\(key) does not exist") }
    static func alreadyExists(_ key: String) -> Self { .init(.alreadyExists, "\(key) already exists") }
    static func sessionExpired(_ id: Int64) -> Self { .init(.sessionExpired, "session \(id) has expired or was closed") }
}
