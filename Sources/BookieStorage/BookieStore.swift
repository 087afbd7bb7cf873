public import BookieWire
import Foundation
public import NIOCore
import Synchronization

/// The storage engine of a bookie: journal, write cache, entry logs and index, with no
/// networking.
///
/// An add is acknowledged once its journal record is durable; it then sits in the write
/// cache until ``flush()`` writes the cache to an entry log sorted by (ledger, entry),
/// indexes it, and records a checkpoint (the journal position everything before which is
/// now in the entry logs). Journal files wholly before the checkpoint are deleted. Opening
/// replays the journal from the checkpoint, so every acknowledged entry survives a crash.
public final class BookieStore: Sendable {
    /// Where a store keeps its files. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        public var journal: Journal.Configuration
        /// Each holds `entrylogs/`; the first also holds `index/` (RocksDB). A ledger's
        /// entries go to the directory its id selects (id modulo the count), so the list
        /// must not change once data is written (the bookie's cookie enforces this).
        public var ledgerDirectories: [String]
        /// Ledgers with ids up to this one may have lost entries here (0: none). They
        /// answer `unknownLedgerState` where they would answer "no such ledger or entry",
        /// take only recovery adds, and answer a fence with `unknownLedgerState` once it is
        /// recorded. The bookie keeps the horizon in its cookie.
        public var unknownStateHorizon: UInt64
        /// An entry log is rolled to a new file past this size (default 1 GiB).
        public var entryLogFileSize: Int

        public init(journal: Journal.Configuration, ledgerDirectories: [String], unknownStateHorizon: UInt64 = 0, entryLogFileSize: Int = 1 << 30) {
            precondition(!ledgerDirectories.isEmpty && ledgerDirectories.count <= 256, "a store needs 1 to 256 ledger directories")
            self.journal = journal
            self.ledgerDirectories = ledgerDirectories
            self.unknownStateHorizon = unknownStateHorizon
            self.entryLogFileSize = entryLogFileSize
        }

        public init(journal: Journal.Configuration, ledgerDirectory: String) {
            self.init(journal: journal, ledgerDirectories: [ledgerDirectory])
        }
    }

    /// Why the store refused a request, as the status a bookie answers with.
    public struct Refusal: Error, Hashable, Sendable, CustomStringConvertible {
        public var status: BookieStatus
        public var message: String
        public init(_ status: BookieStatus, _ message: String) {
            self.status = status
            self.message = message
        }
        public var description: String { "\(self.status): \(self.message)" }
    }

    struct State {
        /// Where records go. Replaced when one that ran out of space is opened again.
        var journal: Journal
        /// Where adds go.
        var cache = WriteCache()
        /// The cache a running flush is writing out, swapped out of `cache` whole: read from
        /// until the flush has indexed it, never changed.
        var flushing = WriteCache()
        var ledgers: [UInt64: LedgerState] = [:]
        /// Ledgers whose state changed since the last flush.
        var changedLedgers: Set<UInt64> = []
        /// Ledgers in `ledgers` whose fence record is durable. A ledger fenced in `ledgers`
        /// but not here has a fence record on its way to the journal.
        var durablyFenced: Set<UInt64> = []
        /// The journal position of the last record reflected in `cache` and `ledgers`.
        var applied = JournalPosition.start
        /// Long-poll readers waiting for a ledger's LAC to pass a value, by ledger.
        var lacWaiters: [UInt64: [LACWaiter]] = [:]
        var nextWaiterID = 0

        /// An entry not yet in the index: added since the last flush, or being flushed.
        func cached(_ ledgerID: UInt64, _ entryID: UInt64) -> ByteBuffer? {
            self.cache.entry(ledgerID: ledgerID, entryID: entryID) ?? self.flushing.entry(ledgerID: ledgerID, entryID: entryID)
        }

        /// Removes and returns the waiters of `ledgerID` that `lac` satisfies.
        mutating func satisfiedWaiters(_ ledgerID: UInt64, lac: Int64) -> [LACWaiter] {
            guard let waiting = self.lacWaiters[ledgerID] else { return [] }
            let (ready, rest) = (waiting.filter { lac > $0.previous }, waiting.filter { lac <= $0.previous })
            self.lacWaiters[ledgerID] = rest.isEmpty ? nil : rest
            return ready
        }
    }

    struct LACWaiter {
        var id: Int
        var previous: Int64
        var notify: @Sendable (Int64) -> Void
    }

    /// Lock order: `flushLock`, then `state`, then the journal's own lock (adds and fences
    /// queue their journal record while holding `state`); the journal's threads run
    /// completions, which take `state`, holding no lock of the journal's.
    let state: Mutex<State>
    let readOnlyFlag = Atomic(false)
    let fullFlag = Atomic(false)
    let horizon: UInt64
    let journalConfiguration: Journal.Configuration
    let index: EntryIndex
    /// One per ledger directory, in configuration order.
    let entryLogs: [EntryLog]
    /// Held by flushes, ledger deletion and each step of compaction: whatever moves
    /// entries between the cache, the entry logs and the index.
    let flushLock = NSLock()
    let journalDirectory: String
    /// For tests: how many of the next flushes fail after taking their snapshot.
    let failingFlushes = Atomic(0)

    private init(index: EntryIndex, entryLogs: [EntryLog], state: State, horizon: UInt64, journal: Journal.Configuration) {
        self.journalConfiguration = journal
        self.index = index
        self.entryLogs = entryLogs
        self.horizon = horizon
        self.journalDirectory = journal.directory
        self.state = Mutex(state)
    }

    /// Opens the store, replaying the journal from the last checkpoint.
    public static func open(_ configuration: Configuration) throws -> BookieStore {
        for directory in configuration.ledgerDirectories {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StorageError(.io, "cannot create the ledger directory \(directory): \(error)")
            }
        }
        let indexPath = (configuration.ledgerDirectories[0] as NSString).appendingPathComponent("index")
        try Self.checkIndexIsNotLost(indexPath, configuration)
        let index = try EntryIndex(path: indexPath)
        var entryLogs: [EntryLog] = []
        for (number, directory) in configuration.ledgerDirectories.enumerated() {
            entryLogs.append(
                try EntryLog(
                    directory: (directory as NSString).appendingPathComponent("entrylogs"),
                    number: UInt8(number),
                    after: try index.lastLogID(directory: number),
                    maxFileSize: configuration.entryLogFileSize
                )
            )
        }
        var state = State(journal: Journal.failed(configuration.journal, lastFileID: 0, error: StorageError(.closed, "the journal is not open yet")))
        let checkpoint = try index.checkpoint() ?? .start
        state.applied = checkpoint
        if FileManager.default.fileExists(atPath: configuration.journal.directory) {
            let replayed = try Journal.replay(directory: configuration.journal.directory, from: checkpoint) { record, position in
                try Self.apply(record, at: position, to: &state, index: index)
            }
            if let torn = replayed.tornAt {
                // Cut for good: after the next crash this file is no longer the newest, and
                // damage in an older file is refused.
                try JournalFile.zero(configuration.journal.directory, id: torn.fileID, offset: Int(torn.offset), length: replayed.tornBytes)
            }
        }
        let journal: Journal
        switch Result(catching: { () throws(StorageError) in try Journal.open(configuration.journal, after: checkpoint.fileID) }) {
        case .success(let opened):
            journal = opened
        case .failure(let error) where error.code == .noSpace:
            // A full disk: the store opens without a journal, serving reads, until
            // ``reopenJournalIfOutOfSpace()`` finds room.
            let last = max(try JournalFile.ids(in: configuration.journal.directory).last ?? 0, checkpoint.fileID)
            journal = Journal.failed(configuration.journal, lastFileID: last, error: error)
        case .failure(let error):
            throw error
        }
        state.journal = journal
        // Everything in the older files is now in `state`: the next checkpoint may drop them.
        state.applied = max(state.applied, JournalPosition(fileID: journal.currentFileID, offset: 0))
        return BookieStore(index: index, entryLogs: entryLogs, state: state, horizon: configuration.unknownStateHorizon, journal: configuration.journal)
    }

    /// Refuses to open when the index is gone but entry logs it pointed into remain: a
    /// fresh index would answer "no such entry" for entries this bookie holds, and a
    /// recoverer would close ledgers short of acknowledged entries.
    private static func checkIndexIsNotLost(_ indexPath: String, _ configuration: Configuration) throws(StorageError) {
        guard !FileManager.default.fileExists(atPath: (indexPath as NSString).appendingPathComponent("CURRENT")) else { return }
        for directory in configuration.ledgerDirectories {
            let logs = (directory as NSString).appendingPathComponent("entrylogs")
            guard FileManager.default.fileExists(atPath: logs), let first = try EntryLog.ids(in: logs).first else { continue }
            throw StorageError(
                .corrupt,
                "the index \(indexPath) is missing, but \(EntryLog.path(logs, first)) and maybe more entry logs remain: without its index this bookie would deny holding entries it acknowledged. Restore the index, or remove every directory of this bookie (journal and ledger directories) so that it starts again as a bookie that lost its data"
            )
        }
    }

    /// Applies a durable journal record to the in-memory state.
    static func apply(_ record: JournalRecord, at position: JournalPosition, to state: inout State, index: EntryIndex) throws {
        func ledger(_ id: UInt64) throws -> LedgerState {
            if let known = state.ledgers[id] { return known }
            return try index.state(ledgerID: id) ?? LedgerState()
        }
        switch record {
        case .entry(let ledgerID, let entryID, let bytes):
            var ledgerState = try ledger(ledgerID)
            // Verified when added, and checksummed by its journal record since.
            if let lac = LedgerEntry.lastAddConfirmed(in: bytes), lac > ledgerState.lastAddConfirmed {
                ledgerState.lastAddConfirmed = lac
            }
            state.ledgers[ledgerID] = ledgerState
            state.cache.set(bytes, ledgerID: ledgerID, entryID: entryID)
        case .fence(let ledgerID):
            var ledgerState = try ledger(ledgerID)
            ledgerState.fenced = true
            state.ledgers[ledgerID] = ledgerState
            state.durablyFenced.insert(ledgerID)
        case .ledgerKey(let ledgerID, let key):
            var ledgerState = try ledger(ledgerID)
            ledgerState.key = key
            state.ledgers[ledgerID] = ledgerState
        case .lastAddConfirmed(let ledgerID, let lac):
            var ledgerState = try ledger(ledgerID)
            ledgerState.lastAddConfirmed = max(ledgerState.lastAddConfirmed, lac)
            state.ledgers[ledgerID] = ledgerState
        }
        state.changedLedgers.insert(record.ledgerID)
        state.applied = max(state.applied, position)
    }
}
