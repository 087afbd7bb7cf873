/// Why a ledger operation failed.
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// E ≥ Qw ≥ Qa ≥ 1 does not hold, or another argument is out of range.
        public static let invalidArgument = Code(name: "invalid argument")
        /// Fewer writable bookies than the ensemble needs.
        public static let notEnoughBookies = Code(name: "not enough bookies")
        /// Someone else fenced or closed the ledger: this writer must stop.
        public static let fenced = Code(name: "fenced")
        /// The ledger is closed and takes no more entries.
        public static let closed = Code(name: "closed")
        public static let noSuchLedger = Code(name: "no such ledger")
        /// The entry is past the last confirmed one, or no replica has it.
        public static let noSuchEntry = Code(name: "no such entry")
        /// No bookie answered usefully in time.
        public static let bookieUnavailable = Code(name: "bookie unavailable")
        /// Recovery could not reach enough bookies to decide the ledger's end.
        public static let recoveryFailed = Code(name: "recovery failed")
        /// An entry failed its digest or named another ledger or entry.
        public static let corruptEntry = Code(name: "corrupt entry")
        public static let corruptMetadata = Code(name: "corrupt metadata")
        public static let timeout = Code(name: "timeout")
        public var description: String { self.name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
