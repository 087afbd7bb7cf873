import Ledger
import Metadata

/// Why a managed-ledger operation failed.
public struct ManagedLedgerError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case fenced, closed, storage, corruptMetadata, invalidArgument, terminated
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// Another broker took the log over (its ledger was fenced, or the ledger list or a
        /// cursor changed under us): this instance must be closed and the topic given up.
        public static let fenced = Code(.fenced)
        /// The managed ledger was closed.
        public static let closed = Code(.closed)
        /// Bookies or the metadata store failed; `cause` says how. An append or rollover
        /// that fails this way fences the log: later appends fail too, until it is opened
        /// again.
        public static let storage = Code(.storage)
        /// A stored ledger list or cursor could not be decoded.
        public static let corruptMetadata = Code(.corruptMetadata)
        public static let invalidArgument = Code(.invalidArgument)
        /// The log was terminated: it takes no more appends.
        public static let terminated = Code(.terminated)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// The ledger or metadata error underneath, if any.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(self.code): \(self.message) (\(cause))" }
        return "\(self.code): \(self.message)"
    }

    /// `error` as a managed-ledger error: fencing by bookies and version conflicts on our
    /// own keys become `fenced`, other storage failures `storage`.
    static func from(_ error: any Error, _ context: String) -> ManagedLedgerError {
        switch error {
        case let error as ManagedLedgerError:
            return error
        case let error as LedgerError where error.code == .fenced:
            return ManagedLedgerError(.fenced, "\(context): the ledger was fenced by another owner", cause: error)
        case let error as MetadataError where error.code == .badVersion:
            return ManagedLedgerError(.fenced, "\(context): the metadata was changed by another owner", cause: error)
        default:
            return ManagedLedgerError(.storage, context, cause: error)
        }
    }
}
