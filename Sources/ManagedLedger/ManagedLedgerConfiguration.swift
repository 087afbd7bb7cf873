/// How a managed ledger places its ledgers, when it rolls over to a new one, how much it
/// caches and how often its cursors are persisted. Defaults are in each field's comment.
public struct ManagedLedgerConfiguration: Sendable {
    /// Bookies per ledger (default 2).
    public var ensembleSize = 2
    /// Copies of each entry (default 2).
    public var writeQuorum = 2
    /// Copies that must be stored before an entry is confirmed (default 2).
    public var ackQuorum = 2
    /// A ledger holding this many entries is closed and a new one started (default 50 000).
    public var maxEntriesPerLedger = 50_000
    /// A ledger holding this many payload bytes is closed and a new one started (default 256 MiB).
    public var maxSizePerLedger = 256 << 20
    /// A ledger this old is closed and a new one started at the next append (default 4 hours).
    public var maxLedgerAge: Duration = .seconds(4 * 3600)
    /// Payload bytes of recently appended entries kept for tailing reads (default 64 MiB).
    /// An entry is accounted by its readable bytes; a slice keeps its whole buffer alive.
    public var cacheSize = 64 << 20
    /// How often changed cursors are written to the metadata store, and consumed ledgers
    /// trimmed (default 1 s). A crash loses at most this much of the acknowledgements.
    public var cursorPersistInterval: Duration = .seconds(1)
    /// Which consumed ledgers are kept, and how long (default: none, as in Pulsar).
    public var retention = RetentionRule()
    /// Ranges of individually acknowledged entries, and batches acknowledged in part, a
    /// cursor keeps each (Pulsar's `managedLedgerMaxUnackedRangesToPersist`, default
    /// 10 000): an acknowledgement that would need one more is not kept, and its message
    /// is delivered again after the topic next loads. Acks in any pattern so cost bounded
    /// memory and a bounded cursor record.
    public var maxUnackedRangesToPersist = 10_000

    public init(
        ensembleSize: Int = 2,
        writeQuorum: Int = 2,
        ackQuorum: Int = 2,
        maxEntriesPerLedger: Int = 50_000,
        maxSizePerLedger: Int = 256 << 20,
        maxLedgerAge: Duration = .seconds(4 * 3600),
        cacheSize: Int = 64 << 20,
        cursorPersistInterval: Duration = .seconds(1),
        retention: RetentionRule = RetentionRule()
    ) {
        self.ensembleSize = ensembleSize
        self.writeQuorum = writeQuorum
        self.ackQuorum = ackQuorum
        self.maxEntriesPerLedger = maxEntriesPerLedger
        self.maxSizePerLedger = maxSizePerLedger
        self.maxLedgerAge = maxLedgerAge
        self.cacheSize = cacheSize
        self.cursorPersistInterval = cursorPersistInterval
        self.retention = retention
    }
}
