/// The outcome a bookie reports for a request, as carried on the wire.
///
/// A bookie answers `noEntry` only when it is sure the entry was never stored; when it
/// cannot be sure (it lost data it may have acknowledged), it answers `unknownLedgerState`,
/// which a reader must never count as absence.
public struct BookieStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let ok = BookieStatus(rawValue: 0)
    /// The bookie holds nothing of this ledger.
    public static let noLedger = BookieStatus(rawValue: 1)
    /// The bookie holds the ledger but not this entry.
    public static let noEntry = BookieStatus(rawValue: 2)
    /// The ledger is fenced: normal adds are refused.
    public static let fenced = BookieStatus(rawValue: 3)
    /// The bookie's disks are past the usage threshold: only recovery adds are accepted.
    public static let readOnly = BookieStatus(rawValue: 4)
    /// The request is malformed or names an unknown operation.
    public static let badRequest = BookieStatus(rawValue: 5)
    /// The bookie failed to read or write its disks.
    public static let ioError = BookieStatus(rawValue: 6)
    /// The bookie is overloaded; retry later or elsewhere.
    public static let tooManyRequests = BookieStatus(rawValue: 7)
    /// The bookie may have lost entries of this ledger and cannot say what it holds.
    public static let unknownLedgerState = BookieStatus(rawValue: 8)
    /// The entry's digest does not match its bytes; it was not stored.
    public static let corruptEntry = BookieStatus(rawValue: 9)
    /// The request's ledger key differs from the one the ledger was created with.
    public static let unauthorized = BookieStatus(rawValue: 10)

    public var description: String {
        switch self {
        case .ok: "OK"
        case .noLedger: "NO_LEDGER"
        case .noEntry: "NO_ENTRY"
        case .fenced: "FENCED"
        case .readOnly: "READ_ONLY"
        case .badRequest: "BAD_REQUEST"
        case .ioError: "IO_ERROR"
        case .tooManyRequests: "TOO_MANY_REQUESTS"
        case .unknownLedgerState: "UNKNOWN_LEDGER_STATE"
        case .corruptEntry: "CORRUPT_ENTRY"
        case .unauthorized: "UNAUTHORIZED"
        default: "STATUS_\(self.rawValue)"
        }
    }
}
