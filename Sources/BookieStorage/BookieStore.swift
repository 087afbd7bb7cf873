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

    private struct State {
        /// Where adds go.
        var cache = WriteCache()
        /// The cache a running flush is writing out, swapped out of `cache` whole: read from
        /// until the flush has indexed it, never changed.
        var flushing = WriteCache()
        var ledgers: [UInt64: LedgerState] = [:]
        /// Ledgers whose state changed since the last flush.
        var changedLedgers: Set<UInt64> = []
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

    private let state = Mutex(State())
    private let readOnlyFlag = Atomic(false)
    private let horizon: UInt64
    private let journal: Journal
    private let index: EntryIndex
    /// One per ledger directory, in configuration order.
    private let entryLogs: [EntryLog]
    /// Held by flushes, ledger deletion and each step of compaction: whatever moves
    /// entries between the cache, the entry logs and the index.
    private let flushLock = NSLock()
    private let journalDirectory: String

    private init(journal: Journal, index: EntryIndex, entryLogs: [EntryLog], state: State, horizon: UInt64, journalDirectory: String) {
        self.journal = journal
        self.index = index
        self.entryLogs = entryLogs
        self.horizon = horizon
        self.journalDirectory = journalDirectory
        self.state.withLock { $0 = state }
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
        let index = try EntryIndex(path: (configuration.ledgerDirectories[0] as NSString).appendingPathComponent("index"))
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
        var state = State()
        let checkpoint = try index.checkpoint() ?? .start
        state.applied = checkpoint
        if FileManager.default.fileExists(atPath: configuration.journal.directory) {
            _ = try Journal.replay(directory: configuration.journal.directory, from: checkpoint) { record, position in
                try Self.apply(record, at: position, to: &state, index: index)
            }
        }
        let journal = try Journal.open(configuration.journal, after: checkpoint.fileID)
        // Everything in the older files is now in `state`: the next checkpoint may drop them.
        state.applied = max(state.applied, JournalPosition(fileID: journal.currentFileID, offset: 0))
        return BookieStore(
            journal: journal, index: index, entryLogs: entryLogs, state: state,
            horizon: configuration.unknownStateHorizon, journalDirectory: configuration.journal.directory
        )
    }

    /// Applies a durable journal record to the in-memory state.
    private static func apply(_ record: JournalRecord, at position: JournalPosition, to state: inout State, index: EntryIndex) throws {
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

    // MARK: Requests

    /// Stores an encoded entry once it is durable. Refuses a corrupt entry, a normal add to
    /// a fenced ledger, and a key that differs from the ledger's.
    public func addEntry(_ bytes: ByteBuffer, ledgerKey: [UInt8], recovery: Bool) async throws(Refusal) -> (ledgerID: UInt64, entryID: UInt64) {
        let result = await withCheckedContinuation { continuation in
            self.addEntry(bytes, ledgerKey: ledgerKey, recovery: recovery) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Like ``addEntry(_:ledgerKey:recovery:)``, calling `completion` once the entry is
    /// durable (on the journal thread) or refused (on the caller's).
    public func addEntry(
        _ bytes: ByteBuffer,
        ledgerKey: [UInt8],
        recovery: Bool,
        completion: @escaping @Sendable (Result<(ledgerID: UInt64, entryID: UInt64), Refusal>) -> Void
    ) {
        let entry: LedgerEntry
        let known: LedgerState?
        do throws(Refusal) {
            do {
                entry = try LedgerEntry(decoding: bytes)
            } catch {
                throw Refusal(.corruptEntry, error.message)
            }
            known = try self.ledgerState(entry.ledgerID)
            if let known, !known.key.isEmpty, known.key != ledgerKey {
                throw Refusal(.unauthorized, "ledger \(entry.ledgerID) was created with another key")
            }
            if let known, known.fenced, !recovery {
                throw Refusal(.fenced, "ledger \(entry.ledgerID) is fenced")
            }
            if !recovery, self.mayHaveLostEntries(entry.ledgerID) {
                throw Refusal(.unknownLedgerState, "ledger \(entry.ledgerID) may have lost entries on this bookie, which takes only recovery adds for it")
            }
            if !recovery, self.isReadOnly {
                throw Refusal(.readOnly, "this bookie is read-only: its disks are nearly full")
            }
        } catch {
            completion(.failure(error))
            return
        }
        if known?.key.isEmpty ?? true, !ledgerKey.isEmpty {
            // The key record goes first; the entry record follows it in the same journal.
            self.journalAndApply(.ledgerKey(ledgerID: entry.ledgerID, key: ledgerKey)) { _ in }
        }
        self.journalAndApply(.entry(ledgerID: entry.ledgerID, entryID: entry.entryID, bytes: bytes)) { result in
            completion(result.map { (entry.ledgerID, entry.entryID) })
        }
    }

    /// The encoded entry, from the write cache or the entry logs.
    ///
    /// Where the answer would be "no such ledger" or "no such entry" for a ledger that may
    /// have lost entries here (see ``Configuration/unknownStateHorizon``), the answer is
    /// `unknownLedgerState` instead: this bookie cannot say the entry never existed.
    public func readEntry(ledgerID: UInt64, entryID: UInt64) throws(Refusal) -> ByteBuffer {
        do {
            return try self.storedEntry(ledgerID: ledgerID, entryID: entryID)
        } catch where (error.status == .noEntry || error.status == .noLedger) && self.mayHaveLostEntries(ledgerID) {
            throw Refusal(.unknownLedgerState, "ledger \(ledgerID) may have lost entries on this bookie; \(error.message)")
        }
    }

    private func storedEntry(ledgerID: UInt64, entryID: UInt64) throws(Refusal) -> ByteBuffer {
        let (cached, known) = self.state.withLock { ($0.cached(ledgerID, entryID), $0.ledgers[ledgerID] != nil) }
        if let cached { return cached }
        do {
            if let location = try self.index.location(ledgerID: ledgerID, entryID: entryID) {
                do {
                    return try self.entryLog(of: location).read(location, ledgerID: ledgerID, entryID: entryID)
                } catch {
                    // Compaction may have moved the entry and removed its old log meanwhile.
                    guard let moved = try self.index.location(ledgerID: ledgerID, entryID: entryID), moved != location else { throw error }
                    return try self.entryLog(of: moved).read(moved, ledgerID: ledgerID, entryID: entryID)
                }
            }
            if let cached = self.state.withLock({ $0.cached(ledgerID, entryID) }) {
                return cached  // Indexed by a flush between the two looks above.
            }
            if !known, try self.index.state(ledgerID: ledgerID) == nil {
                throw Refusal(.noLedger, "no ledger \(ledgerID) here")
            }
        } catch let error as StorageError {
            throw Refusal(.ioError, error.message)
        } catch let refusal as Refusal {
            throw refusal
        } catch {
            throw Refusal(.ioError, "\(error)")
        }
        throw Refusal(.noEntry, "no entry \(ledgerID):\(entryID) here")
    }

    private func entryLog(of location: EntryLocation) throws(StorageError) -> EntryLog {
        let number = EntryLog.directoryNumber(of: location.logID)
        guard number < self.entryLogs.count else {
            throw StorageError(.corrupt, "the index points into ledger directory #\(number), which is not configured")
        }
        return self.entryLogs[number]
    }

    /// The ledger's LAC as this bookie knows it.
    public func lastAddConfirmed(ledgerID: UInt64) throws(Refusal) -> Int64 {
        if let state = try self.ledgerState(ledgerID) { return state.lastAddConfirmed }
        if self.mayHaveLostEntries(ledgerID) {
            throw Refusal(.unknownLedgerState, "ledger \(ledgerID) may have lost entries on this bookie")
        }
        throw Refusal(.noLedger, "no ledger \(ledgerID) here")
    }

    /// Up to `maxEntries` consecutive entries from `firstEntryID`, stopping before
    /// `maxBytes` would be passed (but always returning the first) or at a missing entry.
    /// Throws when the first entry itself cannot be read.
    public func readEntries(ledgerID: UInt64, firstEntryID: UInt64, maxEntries: Int, maxBytes: Int) throws(Refusal) -> [ByteBuffer] {
        var entries = [try self.readEntry(ledgerID: ledgerID, entryID: firstEntryID)]
        var bytes = entries[0].readableBytes
        var next = firstEntryID
        while entries.count < maxEntries, next < .max {
            next += 1
            guard let entry = try? self.readEntry(ledgerID: ledgerID, entryID: next), bytes + entry.readableBytes <= maxBytes else { break }
            bytes += entry.readableBytes
            entries.append(entry)
        }
        return entries
    }

    /// Records an explicit LAC for the ledger, durably.
    public func writeLastAddConfirmed(ledgerID: UInt64, lac: Int64, ledgerKey: [UInt8]) async throws(Refusal) {
        let result = await withCheckedContinuation { continuation in
            self.writeLastAddConfirmed(ledgerID: ledgerID, lac: lac, ledgerKey: ledgerKey) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    /// Like ``writeLastAddConfirmed(ledgerID:lac:ledgerKey:)`` with a completion.
    public func writeLastAddConfirmed(
        ledgerID: UInt64,
        lac: Int64,
        ledgerKey: [UInt8],
        completion: @escaping @Sendable (Result<Void, Refusal>) -> Void
    ) {
        do throws(Refusal) {
            try self.checkKey(ledgerID, ledgerKey)
        } catch {
            return completion(.failure(error))
        }
        self.journalAndApply(.lastAddConfirmed(ledgerID: ledgerID, lac: lac), completion: completion)
    }

    /// Calls `notify` with the ledger's LAC as soon as it is above `previous` — at once if
    /// it already is. Returns a token for ``cancelLACWait(ledgerID:token:)``, or nil when
    /// `notify` already ran.
    public func waitForLAC(ledgerID: UInt64, above previous: Int64, notify: @escaping @Sendable (Int64) -> Void) throws(Refusal) -> Int? {
        let current = try self.ledgerState(ledgerID)?.lastAddConfirmed ?? -1
        let token: Int? = self.state.withLock { state in
            // Re-check under the lock: the LAC may have moved since the read above.
            let lac = max(current, state.ledgers[ledgerID]?.lastAddConfirmed ?? -1)
            guard lac <= previous else { return nil }
            let id = state.nextWaiterID
            state.nextWaiterID += 1
            state.lacWaiters[ledgerID, default: []].append(LACWaiter(id: id, previous: previous, notify: notify))
            return id
        }
        if token == nil {
            notify(max(current, self.state.withLock { $0.ledgers[ledgerID]?.lastAddConfirmed ?? -1 }))
        }
        return token
    }

    /// Forgets a waiter whose reader gave up.
    public func cancelLACWait(ledgerID: UInt64, token: Int) {
        self.state.withLock { state in
            state.lacWaiters[ledgerID]?.removeAll { $0.id == token }
            if state.lacWaiters[ledgerID]?.isEmpty == true { state.lacWaiters[ledgerID] = nil }
        }
    }

    /// Fences the ledger (durably) and returns its LAC as this bookie knows it.
    public func fence(ledgerID: UInt64, ledgerKey: [UInt8]) async throws(Refusal) -> Int64 {
        let result = await withCheckedContinuation { continuation in
            self.fence(ledgerID: ledgerID, ledgerKey: ledgerKey) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Like ``fence(ledgerID:ledgerKey:)`` with a completion.
    public func fence(ledgerID: UInt64, ledgerKey: [UInt8], completion: @escaping @Sendable (Result<Int64, Refusal>) -> Void) {
        let known: LedgerState?
        do throws(Refusal) {
            try self.checkKey(ledgerID, ledgerKey)
            known = try self.ledgerState(ledgerID)
        } catch {
            return completion(.failure(error))
        }
        // Fenced durably either way; a bookie that may have lost entries of the ledger
        // cannot vouch for its LAC, so the fencer must not count its answer.
        let answer: @Sendable () -> Result<Int64, Refusal> = {
            if self.mayHaveLostEntries(ledgerID) {
                return .failure(Refusal(.unknownLedgerState, "ledger \(ledgerID) is fenced, but may have lost entries on this bookie"))
            }
            return Result { () throws(Refusal) in try self.ledgerState(ledgerID)?.lastAddConfirmed ?? -1 }
        }
        if let known, known.fenced {
            return completion(answer())
        }
        self.journalAndApply(.fence(ledgerID: ledgerID)) { result in
            completion(result.flatMap { answer() })
        }
    }

    private func checkKey(_ ledgerID: UInt64, _ key: [UInt8]) throws(Refusal) {
        if let known = try self.ledgerState(ledgerID), !known.key.isEmpty, known.key != key {
            throw Refusal(.unauthorized, "ledger \(ledgerID) was created with another key")
        }
    }

    /// The ledger's state, or nil when this bookie has never heard of it.
    public func ledgerState(_ ledgerID: UInt64) throws(Refusal) -> LedgerState? {
        if let known = self.state.withLock({ $0.ledgers[ledgerID] }) { return known }
        do {
            return try self.index.state(ledgerID: ledgerID)
        } catch {
            throw Refusal(.ioError, error.message)
        }
    }

    private func journalAndApply(_ record: JournalRecord) async throws(Refusal) {
        let result = await withCheckedContinuation { continuation in
            self.journalAndApply(record) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    /// Journals `record` and, once it is durable, applies it to the state — on the journal
    /// thread, in journal order, so `applied` only grows — then calls `completion`.
    private func journalAndApply(_ record: JournalRecord, completion: @escaping @Sendable (Result<Void, Refusal>) -> Void) {
        self.journal.append(record) { result in
            switch result {
            case .success(let position):
                do {
                    let (ready, lac) = try self.state.withLock { state in
                        try Self.apply(record, at: position, to: &state, index: self.index)
                        let lac = state.ledgers[record.ledgerID]?.lastAddConfirmed ?? -1
                        return (state.satisfiedWaiters(record.ledgerID, lac: lac), lac)
                    }
                    completion(.success(()))
                    for waiter in ready { waiter.notify(lac) }
                } catch {
                    completion(.failure(Refusal(.ioError, "\(error)")))
                }
            case .failure(let error):
                completion(.failure(Refusal(.ioError, error.message)))
            }
        }
    }

    // MARK: Data loss

    /// Whether this bookie may have lost entries of the ledger: its id is at or below the
    /// configured unknown-state horizon.
    public func mayHaveLostEntries(_ ledgerID: UInt64) -> Bool {
        ledgerID <= self.horizon
    }

    // MARK: Garbage collection

    /// Every ledger this bookie holds state for, in order.
    public func ledgerIDs() throws -> [UInt64] {
        let indexed = try self.index.ledgerIDs()
        let inMemory = self.state.withLock { Array($0.ledgers.keys) }
        return Set(indexed).union(inMemory).sorted()
    }

    /// Forgets the ledgers: their entries and state leave the cache and the index at once;
    /// their bytes in the entry logs are reclaimed by ``compact(belowLiveRatio:pace:)``.
    public func deleteLedgers(_ ledgerIDs: [UInt64]) throws {
        guard !ledgerIDs.isEmpty else { return }
        self.flushLock.lock()
        defer { self.flushLock.unlock() }
        let changes = EntryIndex.Changes()
        for ledgerID in ledgerIDs { changes.deleteLedger(ledgerID) }
        try self.index.apply(changes, sync: true)
        self.state.withLock { state in
            for ledgerID in ledgerIDs {
                state.ledgers[ledgerID] = nil
                state.changedLedgers.remove(ledgerID)
                state.cache.removeLedger(ledgerID)
                state.flushing.removeLedger(ledgerID)
            }
        }
    }

    /// What one compaction pass did.
    public struct CompactionResult: Hashable, Sendable {
        /// Entry log files removed.
        public var logsRemoved = 0
        /// Live entry bytes copied out of them.
        public var bytesMoved = 0
        /// Bytes of entry log files freed, net of the copies.
        public var bytesReclaimed = 0
    }

    /// Rewrites the live entries of each complete entry log whose live bytes are below
    /// `ratio` of its size into the current log, then removes it. `pace` is called with
    /// the bytes moved after each step (a rate limiter sleeps in it). The step holding the
    /// flush lock is small (at most 1000 entries), so adds and flushes go on meanwhile.
    @discardableResult
    public func compact(belowLiveRatio ratio: Double, pace: (Int) -> Void = { _ in }) throws -> CompactionResult {
        // Logs below the current ones are complete and fully indexed once no flush runs.
        let current = self.flushLock.withLock { self.entryLogs.map(\.currentID) }
        let live = try self.index.liveBytesByLog()
        var result = CompactionResult()
        for (number, log) in self.entryLogs.enumerated() {
            for logID in try log.completeIDs(before: current[number]) {
                guard let size = log.size(of: logID) else { continue }
                let liveBytes = live[logID] ?? 0
                guard Double(liveBytes) < ratio * Double(max(1, size - EntryLog.headerSize)) else { continue }
                var moved = 0
                if liveBytes > 0 {
                    var pending: [(UInt64, UInt64, EntryLocation)] = []
                    try log.scan(logID) { ledgerID, entryID, location in
                        pending.append((ledgerID, entryID, location))
                        if pending.count == 1000 {
                            moved += try self.moveLive(pending, to: log, directory: number, pace: pace)
                            pending.removeAll(keepingCapacity: true)
                        }
                    }
                    moved += try self.moveLive(pending, to: log, directory: number, pace: pace)
                }
                try self.flushLock.withLock { try log.remove(logID) }
                result.logsRemoved += 1
                result.bytesMoved += moved
                result.bytesReclaimed += size - moved
            }
        }
        return result
    }

    /// Copies the records that the index still points to into the current log of their
    /// directory and repoints the index; returns the bytes copied.
    private func moveLive(_ records: [(UInt64, UInt64, EntryLocation)], to log: EntryLog, directory: Int, pace: (Int) -> Void) throws -> Int {
        guard !records.isEmpty else { return 0 }
        let moved: Int = try self.flushLock.withLock {
            let changes = EntryIndex.Changes()
            var moved = 0
            for (ledgerID, entryID, location) in records where try self.index.location(ledgerID: ledgerID, entryID: entryID) == location {
                let bytes = try log.read(location, ledgerID: ledgerID, entryID: entryID)
                changes.setLocation(try log.append(ledgerID: ledgerID, entryID: entryID, bytes: bytes), ledgerID: ledgerID, entryID: entryID)
                moved += Int(location.length)
            }
            guard !changes.isEmpty else { return 0 }
            try log.flush()
            changes.setLastLogID(log.currentID, directory: directory)
            try self.index.apply(changes, sync: true)
            return moved
        }
        pace(moved)
        return moved
    }

    // MARK: Flush and checkpoint

    /// Writes the write cache to the entry logs and the index, records the checkpoint,
    /// and deletes journal files wholly before it. Safe to call from any thread; flushes
    /// run one at a time.
    public func flush() throws {
        self.flushLock.lock()
        defer { self.flushLock.unlock() }
        // The cache is swapped out whole: adds go on into an empty one and never copy
        // what is being flushed.
        let (snapshot, ledgers, checkpoint) = self.state.withLock { state in
            let changed = Dictionary(uniqueKeysWithValues: state.changedLedgers.compactMap { id in state.ledgers[id].map { (id, $0) } })
            state.changedLedgers.removeAll()
            if state.flushing.isEmpty {
                state.flushing = state.cache
            } else {
                // The last flush failed: its entries are written again, under newer ones.
                state.flushing.merge(state.cache)
            }
            state.cache = WriteCache()
            return (state.flushing, changed, state.applied)
        }
        let changes = EntryIndex.Changes()
        for (ledgerID, entries) in snapshot.ledgers.sorted(by: { $0.key < $1.key }) {
            let log = self.entryLogs[Int(ledgerID % UInt64(self.entryLogs.count))]
            for (entryID, bytes) in entries {
                let location = try log.append(ledgerID: ledgerID, entryID: entryID, bytes: bytes)
                changes.setLocation(location, ledgerID: ledgerID, entryID: entryID)
            }
        }
        for (ledgerID, ledgerState) in ledgers { changes.setState(ledgerState, ledgerID: ledgerID) }
        changes.setCheckpoint(checkpoint)
        for (number, log) in self.entryLogs.enumerated() {
            try log.flush()
            changes.setLastLogID(log.currentID, directory: number)
        }
        try self.index.apply(changes, sync: true)
        // Reads find these entries through the index now. (`snapshot` still holds them:
        // they are freed after the lock is released.)
        self.state.withLock { state in
            state.flushing = WriteCache()
        }
        for id in try JournalFile.ids(in: self.journalDirectory) where id < checkpoint.fileID {
            try? FileManager.default.removeItem(atPath: JournalFile.path(self.journalDirectory, id))
        }
    }

    /// Whether normal adds are refused (recovery adds are still accepted). Set by the
    /// bookie's disk monitor.
    public var isReadOnly: Bool {
        get { self.readOnlyFlag.load(ordering: .relaxed) }
        set { self.readOnlyFlag.store(newValue, ordering: .relaxed) }
    }

    /// Why the store cannot take adds, if its journal failed.
    public var journalFailure: StorageError? { self.journal.failure }

    /// Records waiting for the journal thread.
    public var journalQueueDepth: Int { self.journal.queueDepth }

    /// Bytes of acknowledged entries waiting for the next flush.
    public var cachedBytes: Int { self.state.withLock { $0.cache.bytes + $0.flushing.bytes } }

    /// Stops the journal and releases the index. Call ``flush()`` first to avoid a replay
    /// at the next open. Nothing may use the store afterwards.
    public func close() {
        self.journal.close()
        self.flushLock.lock()
        self.index.close()
        self.flushLock.unlock()
    }
}

extension JournalRecord {
    var ledgerID: UInt64 {
        switch self {
        case .entry(let id, _, _), .fence(let id), .ledgerKey(let id, _), .lastAddConfirmed(let id, _): id
        }
    }
}
