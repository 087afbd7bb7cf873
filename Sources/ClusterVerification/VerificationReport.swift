/// What ``ClusterVerifier`` found: counts of what it checked and every problem.
public struct VerificationReport: Codable, Hashable, Sendable {
    public var ledgersChecked = 0
    /// Open or in-recovery ledgers: their entries are not checked (their end is not decided).
    public var ledgersOpen = 0
    public var entriesChecked = 0
    public var topicsChecked = 0
    public var cursorsChecked = 0
    public var problems: [VerificationProblem] = []
    /// Ledgers marked for re-replication by `--repair`.
    public var markedForRepair: [Int64] = []

    public init() {}

    /// No problem found.
    public var isClean: Bool { self.problems.isEmpty }
}

/// One problem ``ClusterVerifier`` found.
public struct VerificationProblem: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Hashable, Sendable {
        /// A bookie of a write set lacks entries of a closed ledger.
        case missingEntries = "missing-entries"
        /// A bookie returned entries failing their digest.
        case corruptEntries = "corrupt-entries"
        /// A bookie of a closed ledger's ensembles could not be asked.
        case bookieUnreachable = "bookie-unreachable"
        /// A bookie's LAC is past the closed ledger's last entry.
        case lacAhead = "lac-ahead"
        /// A ledger's metadata (or a topic's ledger list, or a cursor) cannot be decoded.
        case unreadableMetadata = "unreadable-metadata"
        /// A ledger that no topic lists.
        case orphanLedger = "orphan-ledger"
        /// A topic lists a ledger that does not exist.
        case missingLedger = "missing-ledger"
        /// A cursor's mark-delete position is past its topic's last entry.
        case cursorBeyondEnd = "cursor-beyond-end"
    }

    public var kind: Kind
    public var ledger: Int64?
    public var bookie: String?
    public var topic: String?
    public var cursor: String?
    /// Entries concerned, for replica problems.
    public var firstEntry: Int64?
    public var lastEntry: Int64?
    public var count: Int?
    public var detail: String

    public init(
        kind: Kind, ledger: Int64? = nil, bookie: String? = nil, topic: String? = nil, cursor: String? = nil, firstEntry: Int64? = nil,
        lastEntry: Int64? = nil, count: Int? = nil, detail: String
    ) {
        self.kind = kind
        self.ledger = ledger
        self.bookie = bookie
        self.topic = topic
        self.cursor = cursor
        self.firstEntry = firstEntry
        self.lastEntry = lastEntry
        self.count = count
        self.detail = detail
    }

    public var description: String {
        var parts = [self.kind.rawValue]
        if let ledger { parts.append("ledger \(ledger)") }
        if let topic { parts.append("topic \(topic)") }
        if let cursor { parts.append("cursor \(cursor)") }
        if let bookie { parts.append("bookie \(bookie)") }
        if let firstEntry, let lastEntry, let count { parts.append(firstEntry == lastEntry ? "entry \(firstEntry)" : "entries \(firstEntry)...\(lastEntry) (\(count))") }
        return parts.joined(separator: " ") + ": " + self.detail
    }
}

extension VerificationReport {
    /// The report as text lines: a summary, then one line per problem.
    public var text: String {
        var lines = [
            "ledgers checked: \(self.ledgersChecked) (entries \(self.entriesChecked)); open, not checked: \(self.ledgersOpen)",
            "topics checked: \(self.topicsChecked) (cursors \(self.cursorsChecked))",
        ]
        if !self.markedForRepair.isEmpty {
            lines.append("marked for re-replication: \(self.markedForRepair.map(String.init).joined(separator: ", "))")
        }
        lines.append(self.isClean ? "no problems found" : "\(self.problems.count) problems:")
        lines += self.problems.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}
