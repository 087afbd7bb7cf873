/// Which consumed ledgers of a log may go: Pulsar's retention rule, as a pure value.
///
/// A ledger may be deleted once every cursor has passed all of it (with no cursor, once
/// it is closed), and then only while it is older than the retention time or the log,
/// without the ledgers deleted before it, still holds at least the retention size. The
/// oldest ledgers go first; the first one that must stay keeps every later one too. Each
/// limit is nil for no limit; zero keeps nothing, as Pulsar's defaults do.
public struct RetentionRule: Equatable, Sendable {
    /// How long a closed ledger is kept (nil: for ever).
    public var time: Duration?
    /// How many bytes of consumed ledgers are kept (nil: no limit).
    public var size: Int64?

    public init(time: Duration? = .zero, size: Int64? = 0) {
        self.time = time
        self.size = size
    }

    /// Keeps everything, for ever.
    public static let infinite = RetentionRule(time: nil, size: nil)

    /// Pulsar's minutes and megabytes, -1 being no limit.
    /// Minutes past 2^31 and megabytes past 2^43 count as those: stored policies are
    /// trusted no more than requests.
    public init(minutes: Int, megabytes: Int64) {
        self.time = minutes < 0 ? nil : .seconds(60 * min(minutes, Int(Int32.max)))
        self.size = megabytes < 0 ? nil : min(megabytes, Int64.max >> 20) << 20
    }

    /// How many of `ledgers` (oldest first, the last one being written) may be deleted at
    /// `now` (milliseconds since 1970) when the slowest cursor's mark-delete is `slowest`
    /// (nil: no cursor).
    public func deletable(_ ledgers: [ManagedLedger.LedgerInfo], slowest: Position?, now: Int64) -> Int {
        let total = ledgers.reduce(Int64(0)) { $0 + $1.size }
        var deleted: Int64 = 0
        var count = 0
        while count < ledgers.count - 1 {
            let info = ledgers[count]
            if let slowest, !(info.id < slowest.ledgerID || (info.id == slowest.ledgerID && slowest.entryID >= info.entries - 1)) { break }
            let expired = self.time.map { limit in info.timestamp.map { now.subtractingReportingOverflow($0).partialValue >= ManagedLedger.milliseconds(limit) && now >= $0 } ?? false } ?? false
            let overSize = self.size.map { total - deleted >= $0 } ?? false
            guard expired || overSize else { break }
            deleted += info.size
            count += 1
        }
        return count
    }
}
