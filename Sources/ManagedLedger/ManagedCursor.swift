import Foundation
import Metadata
import Synchronization

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
public final class ManagedCursor: Sendable {
    struct Record: Codable, Equatable {
        var markDelete: Position
        var acked: [ClosedRange<Position>]
        var batches: [PartialBatch]?

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
    }

    public let name: String
    let key: String
    let ledger: ManagedLedger
    let state: Mutex<State>
    /// One persist at a time, so that each CAS builds on the last.
    let persistLock = AsyncLock()

    init(name: String, key: String, ledger: ManagedLedger, record: Record, version: Int64) {
        self.name = name
        self.key = key
        self.ledger = ledger
        self.state = Mutex(
            State(
                markDelete: record.markDelete, acked: record.acked,
                batches: Dictionary((record.batches ?? []).map { ($0.position, $0.unacked) }, uniquingKeysWith: { $1 }),
                readPosition: ledger.next(after: record.markDelete), version: version, persistedMarkDelete: record.markDelete
            )
        )
    }

    convenience init(name: String, key: String, ledger: ManagedLedger, stored: Versioned) throws {
        let record: Record
        do {
            record = try JSONDecoder().decode(Record.self, from: Data(stored.value))
        } catch {
            throw ManagedLedgerError(.corruptMetadata, "\(key) does not hold a cursor", cause: error)
        }
        self.init(name: name, key: key, ledger: ledger, record: record, version: stored.version)
    }

    // MARK: Positions

    /// Everything at or before this position is acknowledged.
    public var markDeletePosition: Position { self.state.withLock { $0.markDelete } }

    /// The mark-delete position as last stored; trimming goes by this one.
    public var persistedMarkDeletePosition: Position { self.state.withLock { $0.persistedMarkDelete } }

    /// The individually acknowledged ranges beyond the mark-delete position (inclusive).
    public var individuallyAcked: [ClosedRange<Position>] { self.state.withLock { $0.acked } }

    /// The next entry to read; may be moved back (rewind, redelivery) or forward.
    public var readPosition: Position {
        get { self.state.withLock { $0.readPosition } }
        set { self.state.withLock { $0.readPosition = newValue } }
    }

    /// Entries after the mark-delete position not individually acknowledged.
    public var backlog: Int64 {
        let (markDelete, acked) = self.state.withLock { ($0.markDelete, $0.acked) }
        var backlog = self.ledger.numberOfEntries(after: markDelete, through: self.ledger.lastConfirmed)
        for range in acked {
            backlog -= self.ledger.numberOfEntries(after: range.lowerBound.previousInLedger, through: range.upperBound)
        }
        return max(0, backlog)
    }

    /// Whether `position` is acknowledged.
    public func isAcked(_ position: Position) -> Bool {
        self.state.withLock { state in
            if position <= state.markDelete { return true }
            let index = Self.firstRange(in: state.acked, endingAtOrAfter: position)
            return index < state.acked.count && state.acked[index].contains(position)
        }
    }

    /// For a batch entry acknowledged in part, Pulsar's ack_set of what is left: set bits
    /// are the messages still unacknowledged. Nil otherwise.
    public func unackedBatchIndexes(of position: Position) -> [Int64]? {
        self.state.withLock { $0.batches[position] }
    }

    // MARK: Acknowledging

    /// Acknowledges some messages of a batch entry. `ackSet` is Pulsar's: set bits are
    /// the messages the client has *not* acknowledged. Returns true when no message of the
    /// entry is left unacknowledged, and then the entry is acknowledged as a whole.
    @discardableResult
    public func ack(_ position: Position, batchIndexes ackSet: [Int64]) -> Bool {
        let complete = self.state.withLock { state -> Bool? in
            guard position > state.markDelete, !state.deleted else { return nil }
            let index = Self.firstRange(in: state.acked, endingAtOrAfter: position)
            if index < state.acked.count, state.acked[index].contains(position) { return nil }
            let before = state.batches[position]
            var left = ackSet
            if let before {
                // A message stays unacknowledged only while both say so (the sets of one
                // batch have the same length).
                left = zip(before, ackSet).map { $0 & $1 }
            }
            if left.allSatisfy({ $0 == 0 }) {
                state.batches[position] = nil
                return true
            }
            if left != before {
                state.batches[position] = left
                state.dirty = true
            }
            return false
        }
        switch complete {
        case nil: return true
        case true?:
            self.ack(position)
            return true
        case false?: return false
        }
    }

    /// Acknowledges one entry. The mark-delete position advances when the entry closes
    /// the gap after it.
    public func ack(_ position: Position) {
        self.state.withLock { state in
            guard position > state.markDelete, !state.deleted else { return }
            var index = Self.firstRange(in: state.acked, endingAtOrAfter: position)
            if index < state.acked.count, state.acked[index].contains(position) { return }
            var lower = position
            var upper = position
            if index > 0, self.ledger.next(after: state.acked[index - 1].upperBound) >= position {
                lower = state.acked[index - 1].lowerBound
                state.acked.remove(at: index - 1)
                index -= 1
            }
            if index < state.acked.count, self.ledger.next(after: position) >= state.acked[index].lowerBound {
                upper = state.acked[index].upperBound
                state.acked.remove(at: index)
            }
            state.acked.insert(lower...upper, at: index)
            state.batches[position] = nil
            self.absorbFirstRange(&state)
            state.dirty = true
        }
    }

    /// Acknowledges everything at or before `position`.
    public func ackCumulative(_ position: Position) {
        self.state.withLock { state in
            guard position > state.markDelete, !state.deleted else { return }
            state.markDelete = position
            let dropped = Self.firstRange(in: state.acked, endingAtOrAfter: position)
            state.acked.removeFirst(dropped)
            if let first = state.acked.first, first.lowerBound <= position {
                state.acked.removeFirst()
                if first.upperBound > position { state.markDelete = first.upperBound }
            }
            self.absorbFirstRange(&state)
            state.batches = state.batches.filter { $0.key > state.markDelete }
            state.dirty = true
        }
    }

    /// Moves the read position back to the first entry not covered by the mark-delete
    /// position (the broker skips individually acknowledged ones).
    public func rewind() {
        self.state.withLock { state in state.readPosition = self.ledger.next(after: state.markDelete) }
    }

    /// Resets the cursor to `position`, as Pulsar's seek does: the next read is
    /// `position`, the mark-delete position becomes the one before it (earlier or later
    /// than before), and individual acknowledgements are forgotten. A position before the
    /// first existing entry resets to that entry. To move only the read position, set
    /// ``readPosition``.
    public func seek(to position: Position) {
        let first = self.ledger.firstPosition
        let target = max(position, first)
        self.state.withLock { state in
            guard !state.deleted else { return }
            state.markDelete = target.previousInLedger
            state.acked = []
            state.batches = [:]
            state.readPosition = target
            state.dirty = true
        }
    }

    /// Moves the mark-delete position over the first acknowledged range when nothing lies
    /// between them, and keeps the read position after it.
    private func absorbFirstRange(_ state: inout State) {
        if let first = state.acked.first, self.ledger.next(after: state.markDelete) >= first.lowerBound {
            state.markDelete = first.upperBound
            state.acked.removeFirst()
        }
        if state.readPosition <= state.markDelete {
            state.readPosition = self.ledger.next(after: state.markDelete)
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
        guard let (record, version) = self.state.withLock({ state -> (Record, Int64)? in
            guard state.dirty, !state.deleted else { return nil }
            state.dirty = false
            let batches = state.batches.filter { $0.key > state.markDelete }.sorted { $0.key < $1.key }.map {
                Record.PartialBatch(position: $0.key, unacked: $0.value)
            }
            return (Record(markDelete: state.markDelete, acked: state.acked, batches: batches.isEmpty ? nil : batches), state.version)
        }) else { return }
        do {
            let stored = try await self.ledger.metadata.put(self.key, value: try record.encoded(), expecting: .version(version))
            self.state.withLock { state in
                state.version = stored
                state.persistedMarkDelete = record.markDelete
            }
        } catch {
            self.state.withLock { $0.dirty = true }
            if let error = error as? MetadataError, error.code == .notFound {
                throw ManagedLedgerError(.fenced, "cursor \(self.name) of \(self.ledger.name) was deleted by another owner", cause: error)
            }
            throw ManagedLedgerError.from(error, "persisting cursor \(self.name) of \(self.ledger.name)")
        }
    }

    /// Stops persisting: the cursor was deleted.
    func markDeleted() async {
        await self.persistLock.lock()
        self.state.withLock { $0.deleted = true }
        self.persistLock.unlock()
    }
}
