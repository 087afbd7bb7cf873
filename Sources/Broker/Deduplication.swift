import PulsarProto

/// Producer deduplication of one topic, as a pure value: the highest sequence id each
/// producer (by name) has had stored, and handed to the log but not confirmed yet.
///
/// A message whose sequence id is not above its producer's highest handed to the log is a
/// duplicate: receipted at once when the earlier copy is stored, or once it is stored when
/// it is still on its way. Kept durable in the ``cursorName`` cursor: its mark-delete
/// position is the last entry the stored numbers cover, its properties the numbers; a
/// loading topic reads them and the entries after that position.
struct Deduplication: Sendable {
    /// The cursor holding the snapshot; not a subscription.
    static let cursorName = "pulsar.dedup"
    /// Entries stored between two snapshots (Pulsar's brokerDeduplicationEntriesInterval).
    static let snapshotInterval = 1000

    /// Highest sequence id per producer handed to the log.
    private(set) var pushed: [String: Int64] = [:]
    /// Highest sequence id per producer confirmed stored.
    private(set) var persisted: [String: Int64] = [:]
    /// Entries confirmed since the last snapshot.
    private(set) var sinceSnapshot = 0
    /// When each known producer not connected now was first seen gone (ms since the epoch).
    private(set) var goneSince: [String: UInt64] = [:]

    /// What to do with a message.
    enum Verdict: Equatable, Sendable {
        /// Store it.
        case new
        /// Stored before: receipt it without storing.
        case duplicate
        /// Its earlier copy is still being stored: receipt it once that one is.
        case inFlight
    }

    init(snapshot: [String: Int64] = [:]) {
        self.pushed = snapshot
        self.persisted = snapshot
    }

    /// Decides for a message of `producer` with sequence ids `low...high` (a batch's
    /// first and last), and records a new one as handed to the log.
    mutating func check(producer: String, low: Int64, high: Int64) -> Verdict {
        if let pushed = self.pushed[producer], low <= pushed {
            if let persisted = self.persisted[producer], low <= persisted { return .duplicate }
            return .inFlight
        }
        self.pushed[producer] = max(low, high)
        return .new
    }

    /// Records a stored message of `producer` up to sequence id `high`; true when a
    /// snapshot is due.
    mutating func stored(producer: String, high: Int64) -> Bool {
        self.persisted[producer] = max(self.persisted[producer] ?? high, high)
        self.sinceSnapshot += 1
        return self.sinceSnapshot >= Self.snapshotInterval
    }

    /// The highest sequence id a stored message covers: its highest_sequence_id, or its
    /// sequence id plus its batch's messages less one. Stored entries are read as strictly
    /// as SENDs: ids above Int64.max and counts that overflow stop at Int64.max.
    static func highestSequenceID(of metadata: Pulsar_Proto_MessageMetadata) -> Int64 {
        let low = Int64(clamping: metadata.sequenceID)
        let count = Int64(max(1, metadata.numMessagesInBatch))
        let (last, overflow) = low.addingReportingOverflow(count - 1)
        let byCount = overflow ? Int64.max : last
        return max(byCount, metadata.hasHighestSequenceID ? Int64(clamping: metadata.highestSequenceID) : low)
    }

    /// Records an entry found in the log while rebuilding (it was stored before).
    mutating func replayed(producer: String, high: Int64) {
        guard !producer.isEmpty else { return }
        self.persisted[producer] = max(self.persisted[producer] ?? high, high)
        self.pushed[producer] = max(self.pushed[producer] ?? high, high)
    }

    /// A failed write: what was handed to the log but not stored may be sent again.
    mutating func forgetUnstored() {
        self.pushed = self.persisted
    }

    /// The snapshot was taken.
    mutating func snapshotTaken() {
        self.sinceSnapshot = 0
    }

    /// The highest sequence id stored for `producer`, or -1.
    func lastSequenceID(of producer: String) -> Int64 {
        self.persisted[producer] ?? -1
    }

    /// Forgets the producers that have been gone (not in `connected`) for `timeout`
    /// milliseconds or more at `now`, as Pulsar does after
    /// brokerDeduplicationProducerInactivityTimeoutMinutes; returns their names. A producer
    /// first seen gone now starts its count now. A forgotten producer that comes back
    /// starts again from -1.
    mutating func forgetInactive(connected: Set<String>, now: UInt64, timeout: UInt64) -> [String] {
        var forgotten: [String] = []
        for producer in Set(self.persisted.keys).union(self.pushed.keys) {
            if connected.contains(producer) {
                self.goneSince[producer] = nil
                continue
            }
            let since = self.goneSince[producer] ?? now
            self.goneSince[producer] = since
            // A producer with a message still being stored is not forgotten yet.
            guard now >= since, now - since >= timeout, self.pushed[producer] == self.persisted[producer] else { continue }
            self.pushed[producer] = nil
            self.persisted[producer] = nil
            self.goneSince[producer] = nil
            forgotten.append(producer)
        }
        return forgotten.sorted()
    }

    /// Whether `high` of `producer` is now stored (an in-flight duplicate may be receipted).
    func isStored(producer: String, sequenceID: Int64) -> Bool {
        (self.persisted[producer] ?? -1) >= sequenceID
    }
}
