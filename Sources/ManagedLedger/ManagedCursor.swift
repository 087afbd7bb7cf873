import Foundation
import Metadata

/// A durable subscription's place in a managed ledger: everything at or before the
/// mark-delete position is acknowledged, plus individually acknowledged ranges beyond it.
///
/// Stored at `/managed-ledgers/<ledger>/cursors/<name>` as JSON
/// `{"markDelete":{"ledgerID":…,"entryID":…},"acked":[[start,end],…],"batches":[…]}`
/// (ranges inclusive; `batches` lists entries acknowledged in part, with the words of
/// Pulsar's ack_set whose set bits are the messages still unacknowledged),
/// by CAS, every ``ManagedLedgerConfiguration/cursorPersistInterval`` when changed and on
/// ``persist()``: a broker crash forgets at most that interval's acknowledgements.
/// Acknowledging is in memory and cheap. The read position is not stored: after a
/// reopen it is the entry after the mark-delete position.
///
/// The actor's executor is its managed ledger's event loop, so a topic on that loop calls
/// it with `assumeIsolated` and the cursor reads the ledger's positions the same way.
public actor ManagedCursor {
    struct Record: Codable, Equatable {
        var markDelete: Position
        var acked: [ClosedRange<Position>]
        var batches: [PartialBatch]?
        /// Named numbers stored with the position (Pulsar's cursor properties), e.g. the
        /// highest sequence id of each producer for deduplication.
        var properties: [String: Int64]?

        struct PartialBatch: Codable, Equatable {
            var position: Position
            var unacked: [Int64]
        }

        func encoded() throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return Array(try encoder.encode(self))
        }
    }

    struct State {
        var markDelete: Position
        /// Sorted, disjoint, not adjacent, all after `markDelete`.
        var acked: [ClosedRange<Position>]
        /// Batch entries acknowledged in part: set bits are messages not yet acknowledged.
        var batches: [Position: [Int64]] = [:]
        var readPosition: Position
        var version: Int64
        var persistedMarkDelete: Position
        var dirty = false
        var deleted = false
        var properties: [String: Int64] = [:]
    }

    public nonisolated let name: String
    nonisolated let key: String
    nonisolated let ledger: ManagedLedger
    var state: State
    /// One persist at a time, so that each CAS builds on the last.
    let persistLock = AsyncLock()

    /// A cursor at `record`, reading next at `readPosition`; made in the ledger's isolation.
    init(name: String, key: String, ledger: isolated ManagedLedger, record: Record, version: Int64) {
        self.name = name
        self.key = key
        self.ledger = ledger
        // A stored record is held to the same bounds as acknowledgements: ranges past the
        // limit (or out of order) are dropped, and their entries delivered again.
        let limit = ledger.configuration.maxUnackedRangesToPersist
        let ordered = record.acked.enumerated().prefix { index, range in
            index == 0 ? range.lowerBound > record.markDelete : record.acked[index - 1].upperBound < range.lowerBound
        }.map(\.element)
        self.state = State(
            markDelete: record.markDelete, acked: Array(ordered.prefix(limit)),
            batches: Dictionary((record.batches ?? []).prefix(limit).map { ($0.position, $0.unacked) }, uniquingKeysWith: { $1 }),
            readPosition: ledger.next(after: record.markDelete), version: version, persistedMarkDelete: record.markDelete,
            properties: record.properties ?? [:]
        )
    }

    static func record(_ stored: Versioned, key: String) throws -> Record {
        do {
            return try JSONDecoder().decode(Record.self, from: Data(stored.value))
        } catch {
            throw ManagedLedgerError(.corruptMetadata, "\(key) does not hold a cursor", cause: error)
        }
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.ledger.unownedExecutor }

    /// `ledger.next(after:)`, read in place: the ledger shares this actor's executor.
    private func next(after position: Position) -> Position {
        self.ledger.assumeIsolated { $0.next(after: position) }
    }

    // MARK: Positions

    /// Everything at or before this position is acknowledged.
    public var markDeletePosition: Position { self.state.markDelete }

    /// The mark-delete position as last stored; trimming goes by this one.
    public var persistedMarkDeletePosition: Position { self.state.persistedMarkDelete }

    /// The individually acknowledged ranges beyond the mark-delete position (inclusive).
    public var individuallyAcked: [ClosedRange<Position>] { self.state.acked }

    /// The next entry to read; may be moved back (rewind, redelivery) or forward.
    public var readPosition: Position {
        get { self.state.readPosition }
        set { self.state.readPosition = newValue }
    }

    /// Sets the read position (from outside the cursor's isolation).
    public func moveReadPosition(to position: Position) {
        self.state.readPosition = position
    }

    /// Entries after the mark-delete position not individually acknowledged.
    public var backlog: Int64 {
        let (markDelete, acked) = (self.state.markDelete, self.state.acked)
        return self.ledger.assumeIsolated { ledger in
            var backlog = ledger.numberOfEntries(after: markDelete, through: ledger.lastConfirmed)
            for range in acked {
                backlog -= ledger.numberOfEntries(after: range.lowerBound.previousInLedger, through: range.upperBound)
            }
            return max(0, backlog)
        }
    }

    /// Whether `position` is acknowledged.
    public func isAcked(_ position: Position) -> Bool {
        if position <= self.state.markDelete { return true }
        let index = Self.firstRange(in: self.state.acked, endingAtOrAfter: position)
        return index < self.state.acked.count && self.state.acked[index].contains(position)
    }

    /// For a batch entry acknowledged in part, Pulsar's ack_set of what is left: set bits
    /// are the messages still unacknowledged. Nil otherwise.
    public func unackedBatchIndexes(of position: Position) -> [Int64]? {
        self.state.batches[position]
    }

    /// The named numbers stored with the cursor.
    public var properties: [String: Int64] { self.state.properties }

    /// Moves the mark-delete position to `position` and replaces the properties, stored
    /// together at the next persist: the properties describe the log through `position`.
    public func mark(_ position: Position, properties: [String: Int64]) {
        guard !self.state.deleted else { return }
        if position > self.state.markDelete, self.isWritten(position) { self.state.markDelete = position }
        self.state.properties = properties
        self.state.dirty = true
    }

    // MARK: Acknowledging

    /// Acknowledges some messages of a batch entry. `ackSet` is Pulsar's: set bits are
    /// the messages the client has *not* acknowledged. Returns true when no message of the
    /// entry is left unacknowledged, and then the entry is acknowledged as a whole.
    @discardableResult
    public func ack(_ position: Position, batchIndexes ackSet: [Int64]) -> Bool {
        guard !self.state.deleted, !self.isAcked(position) else { return true }
        guard self.isWritten(position) else { return false }
        let before = self.state.batches[position]
        // A batch acknowledged in part for the first time needs room to be remembered.
        if before == nil, self.state.batches.count >= self.ledger.configuration.maxUnackedRangesToPersist { return false }
        var left = ackSet
        if let before {
            // A message stays unacknowledged only while both say so (the sets of one batch
            // have the same length).
            left = zip(before, ackSet).map { $0 & $1 }
        }
        if left.allSatisfy({ $0 == 0 }) {
            self.ack(position)
            return true
        }
        if left != before {
            self.state.batches[position] = left
            self.state.dirty = true
        }
        return false
    }

    /// Whether `position` is at or before the log's last confirmed entry: an
    /// acknowledgement of anything later would skip entries not written yet, and is ignored.
    public func isWritten(_ position: Position) -> Bool {
        position <= self.ledger.assumeIsolated { $0.lastConfirmed }
    }

    /// Acknowledges one entry. The mark-delete position advances when the entry closes
    /// the gap after it. A position past the last confirmed entry is ignored.
    public func ack(_ position: Position) {
        guard position > self.state.markDelete, !self.state.deleted, self.isWritten(position) else { return }
        var index = Self.firstRange(in: self.state.acked, endingAtOrAfter: position)
        if index < self.state.acked.count, self.state.acked[index].contains(position) { return }
        var lower = position
        var upper = position
        if index > 0, self.next(after: self.state.acked[index - 1].upperBound) >= position {
            lower = self.state.acked[index - 1].lowerBound
            self.state.acked.remove(at: index - 1)
            index -= 1
        }
        let joinsNext = index < self.state.acked.count && self.next(after: position) >= self.state.acked[index].lowerBound
        if lower == position, !joinsNext, self.next(after: self.state.markDelete) < position,
            self.state.acked.count >= self.ledger.configuration.maxUnackedRangesToPersist
        {
            // A range of its own would pass the limit: not kept (delivered again after a reload).
            return
        }
        if joinsNext {
            upper = self.state.acked[index].upperBound
            self.state.acked.remove(at: index)
        }
        self.state.acked.insert(lower...upper, at: index)
        self.state.batches[position] = nil
        self.absorbFirstRange()
        self.state.dirty = true
    }

    /// Acknowledges everything at or before `position`. A position past the last
    /// confirmed entry is ignored: the mark-delete position never passes it.
    public func ackCumulative(_ position: Position) {
        guard position > self.state.markDelete, !self.state.deleted, self.isWritten(position) else { return }
        self.state.markDelete = position
        let dropped = Self.firstRange(in: self.state.acked, endingAtOrAfter: position)
        self.state.acked.removeFirst(dropped)
        if let first = self.state.acked.first, first.lowerBound <= position {
            self.state.acked.removeFirst()
            if first.upperBound > position { self.state.markDelete = first.upperBound }
        }
        self.absorbFirstRange()
        if !self.state.batches.isEmpty {
            let markDelete = self.state.markDelete
            self.state.batches = self.state.batches.filter { $0.key > markDelete }
        }
        self.state.dirty = true
    }

    /// Acknowledges the next `count` entries not acknowledged yet, stopping at the last
    /// confirmed entry; returns how many it acknowledged.
    @discardableResult
    public func skip(_ count: Int64) -> Int64 {
        let last = self.ledger.assumeIsolated { $0.lastConfirmed }
        var position = self.state.markDelete
        var skipped: Int64 = 0
        while skipped < count {
            position = self.next(after: position)
            guard position <= last else { break }
            if !self.isAcked(position) {
                self.ack(position)
                skipped += 1
            }
        }
        return skipped
    }

    /// Moves the read position back to the first entry not covered by the mark-delete
    /// position (the broker skips individually acknowledged ones).
    public func rewind() {
        self.state.readPosition = self.next(after: self.state.markDelete)
    }

    /// Resets the cursor to `position`, as Pulsar's seek does: the next read is
    /// `position`, the mark-delete position becomes the one before it (earlier or later
    /// than before), and individual acknowledgements are forgotten. A position before the
    /// first existing entry resets to that entry, one past the last confirmed entry to the
    /// position after it. To move only the read position, set ``readPosition``.
    public func seek(to position: Position) {
        guard !self.state.deleted else { return }
        let (first, end) = self.ledger.assumeIsolated { ($0.firstPosition, $0.next(after: $0.lastConfirmed)) }
        let target = min(max(position, first), end)
        self.state.markDelete = target.previousInLedger
        self.state.acked = []
        self.state.batches = [:]
        self.state.readPosition = target
        self.state.dirty = true
    }

    /// Moves the mark-delete position over the first acknowledged range when nothing lies
    /// between them, and keeps the read position after it.
    private func absorbFirstRange() {
        if let first = self.state.acked.first, self.next(after: self.state.markDelete) >= first.lowerBound {
            self.state.markDelete = first.upperBound
            self.state.acked.removeFirst()
        }
        if self.state.readPosition <= self.state.markDelete {
            self.state.readPosition = self.next(after: self.state.markDelete)
        }
    }

    /// The index of the first range whose upper bound is at or after `position`.
    private static func firstRange(in ranges: [ClosedRange<Position>], endingAtOrAfter position: Position) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: Persisting

    /// Stores the cursor now if it changed, then trims ledgers every cursor has consumed.
    /// Throws `fenced` if another broker took the cursor over.
    public func persist() async throws {
        try await self.persist(trimming: true)
    }

    func persist(trimming: Bool) async throws {
        await self.persistLock.lock()
        do {
            try await self.store()
            self.persistLock.unlock()
        } catch {
            self.persistLock.unlock()
            throw error
        }
        if trimming { await self.ledger.trimConsumedLedgers() }
    }

    private func store() async throws {
        guard self.state.dirty, !self.state.deleted else { return }
        self.state.dirty = false
        let markDelete = self.state.markDelete
        let batches = self.state.batches.filter { $0.key > markDelete }.sorted { $0.key < $1.key }.map {
            Record.PartialBatch(position: $0.key, unacked: $0.value)
        }
        let record = Record(
            markDelete: markDelete, acked: self.state.acked, batches: batches.isEmpty ? nil : batches,
            properties: self.state.properties.isEmpty ? nil : self.state.properties
        )
        do {
            // A write whose answer was lost is read back: the cursor builds on the version
            // it wrote, instead of failing every later compare-and-set as "fenced".
            self.state.version = try await self.ledger.metadata.putReconciled(
                self.key, value: try record.encoded(), expecting: .version(self.state.version)
            )
            self.state.persistedMarkDelete = record.markDelete
        } catch {
            self.state.dirty = true
            if let error = error as? MetadataError, error.code == .notFound {
                throw ManagedLedgerError(.fenced, "cursor \(self.name) of \(self.ledger.name) was deleted by another owner", cause: error)
            }
            throw ManagedLedgerError.from(error, "persisting cursor \(self.name) of \(self.ledger.name)")
        }
    }

    /// Stops persisting: the cursor was deleted.
    func markDeleted() async {
        await self.persistLock.lock()
        self.state.deleted = true
        self.persistLock.unlock()
    }
}
