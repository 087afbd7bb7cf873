import Ledger
import ManagedLedger
import Metadata

extension BrokerError {
    /// `error` with `context` in front, keeping its kind: a broker error keeps its code,
    /// another gets the code for what failed (``code(for:)``). Loading a topic wraps its
    /// failures this way, so that the client hears why and can act on it.
    public init(_ error: any Error, _ context: String) {
        if let error = error as? BrokerError {
            self.init(error.code, "\(context): \(error.message)")
        } else {
            self.init(Self.code(for: error), "\(context): \(error)")
        }
    }

    /// The code for what failed:
    /// - a log another broker took over, or one closed under us: `serviceNotReady` (the
    ///   client looks the topic up again and retries);
    /// - the metadata store, or metadata that cannot be decoded: `metadata`;
    /// - bookies and anything else below the managed ledger: `persistence`.
    public static func code(for error: any Error) -> Code {
        switch error {
        case let error as BrokerError:
            return error.code
        case let error as ManagedLedgerError:
            if error.code == .fenced || error.code == .closed { return .serviceNotReady }
            if error.code == .corruptMetadata { return .metadata }
            return error.cause.map { Self.code(for: $0) } ?? .persistence
        case is MetadataError:
            return .metadata
        default:
            return .persistence
        }
    }
}
