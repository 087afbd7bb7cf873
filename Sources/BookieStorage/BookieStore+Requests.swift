public import BookieWire
import Foundation
public import NIOCore
import Synchronization

extension BookieStore {
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
    /// durable (on the journal thread) or refused (on the caller's). May read the index (a
    /// RocksDB read) when memory holds nothing of the ledger: call it where blocking is
    /// allowed, or try ``addEntryIfLedgerInMemory(_:ledgerKey:recovery:completion:)`` first.
    public func addEntry(
        _ bytes: ByteBuffer,
        ledgerKey: [UInt8],
        recovery: Bool,
        completion: @escaping @Sendable (Result<(ledgerID: UInt64, entryID: UInt64), Refusal>) -> Void
    ) {
        _ = self.addEntry(bytes, ledgerKey: ledgerKey, recovery: recovery, mayReadIndex: true, completion: completion)
    }

    /// Like ``addEntry(_:ledgerKey:recovery:completion:)`` without blocking: returns false,
    /// having done nothing and without calling `completion`, when the add would have to
    /// read the ledger's state from the index (memory holds nothing of the ledger). An
    /// event loop calls this, and hands the add to a thread that may block when it returns
    /// false.
    public func addEntryIfLedgerInMemory(
        _ bytes: ByteBuffer,
        ledgerKey: [UInt8],
        recovery: Bool,
        completion: @escaping @Sendable (Result<(ledgerID: UInt64, entryID: UInt64), Refusal>) -> Void
    ) -> Bool {
        self.addEntry(bytes, ledgerKey: ledgerKey, recovery: recovery, mayReadIndex: false, completion: completion)
    }

    /// Returns false only when `mayReadIndex` is false and the index would have to be read.
    private func addEntry(
        _ bytes: ByteBuffer,
        ledgerKey: [UInt8],
        recovery: Bool,
        mayReadIndex: Bool,
        completion: @escaping @Sendable (Result<(ledgerID: UInt64, entryID: UInt64), Refusal>) -> Void
    ) -> Bool {
        let entry: LedgerEntry
        do {
            entry = try LedgerEntry(decoding: bytes)
        } catch {
            completion(.failure(Refusal(.corruptEntry, error.message)))
            return true
        }
        let ledgerID = entry.ledgerID
        let entryID = entry.entryID
        let completeEntry: @Sendable (Result<Void, Refusal>) -> Void = { result in completion(result.map { (ledgerID, entryID) }) }
        // The checks and the journal append happen under the state lock, as does a fence's
        // change of the ledger's state: an add either is queued before the fence record, or
        // sees the fence and is refused. A ledger memory does not hold is looked up in the
        // index outside the lock (a RocksDB read), and the lock taken again.
        var indexed: LedgerState??
        while true {
            let outcome: AddOutcome = self.state.withLock { state in
                guard let known = state.ledgers[ledgerID].map(Optional.some) ?? indexed else { return .needsIndex }
                if state.ledgers[ledgerID] == nil, let known {
                    // Kept, as the index has it, so that applying the record on the journal
                    // thread does not read the index again under this lock.
                    state.ledgers[ledgerID] = known
                }
                if let known, !known.key.isEmpty, known.key != ledgerKey {
                    return .refused(Refusal(.unauthorized, "ledger \(ledgerID) was created with another key"))
                }
                if let known, known.fenced, !recovery {
                    return .refused(Refusal(.fenced, "ledger \(ledgerID) is fenced"))
                }
                if !recovery, self.mayHaveLostEntries(ledgerID) {
                    return .refused(
                        Refusal(.unknownLedgerState, "ledger \(ledgerID) may have lost entries on this bookie, which takes only recovery adds for it")
                    )
                }
                if !recovery, self.isReadOnly {
                    return .refused(Refusal(.readOnly, "this bookie is read-only: its disks are nearly full, or its journal cannot write"))
                }
                if recovery, self.isFull {
                    return .refused(Refusal(.readOnly, "this bookie's disks are full: it takes no copies of entries either"))
                }
                if known?.key.isEmpty ?? true, !ledgerKey.isEmpty {
                    // The key record goes first; the entry record follows it in the same journal.
                    if let failure = self.enqueue(.ledgerKey(ledgerID: ledgerID, key: ledgerKey), on: state.journal, completion: { _ in }) {
                        return .refused(failure)
                    }
                }
                return self.enqueue(.entry(ledgerID: ledgerID, entryID: entryID, bytes: bytes), on: state.journal, completion: completeEntry)
                    .map(AddOutcome.refused) ?? .queued
            }
            switch outcome {
            case .queued:
                return true
            case .refused(let refusal):
                completion(.failure(refusal))
                return true
            case .needsIndex:
                guard mayReadIndex else { return false }
                do {
                    indexed = .some(try self.index.state(ledgerID: ledgerID))
                } catch {
                    completion(.failure(Refusal(.ioError, error.message)))
                    return true
                }
            }
        }
    }

    /// For tests only: `hook` runs, with the ledger's id, before every index read of a
    /// ledger's state or an entry's location (nil removes it). A test blocks in it to see
    /// which threads wait on RocksDB.
    public func setTestingBeforeIndexRead(_ hook: (@Sendable (UInt64) -> Void)?) {
        self.index.testingBeforeRead.withLock { $0 = hook }
    }

    /// What an add found under the state lock.
    private enum AddOutcome {
        case queued
        case refused(Refusal)
        /// Memory holds nothing of the ledger: its state is to be read from the index.
        case needsIndex
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
    ///
    /// The fence takes effect at once: from the moment this returns, a normal add of the
    /// ledger is refused, also while the fence record is still being journaled. The
    /// completion runs once the record is durable (a fence repeated while the first is
    /// in flight journals another record, so it too answers only once the fence is durable).
    public func fence(ledgerID: UInt64, ledgerKey: [UInt8], completion: @escaping @Sendable (Result<Int64, Refusal>) -> Void) {
        let indexed: LedgerState?
        do throws(Refusal) {
            indexed = try self.indexedStateIfNotInMemory(ledgerID)
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
        enum Step { case refuse(Refusal), answer, journaled }
        let step: Step = self.state.withLock { state in
            var ledger = state.ledgers[ledgerID] ?? indexed ?? LedgerState()
            if !ledger.key.isEmpty, ledger.key != ledgerKey {
                return .refuse(Refusal(.unauthorized, "ledger \(ledgerID) was created with another key"))
            }
            if ledger.fenced, state.ledgers[ledgerID] == nil || state.durablyFenced.contains(ledgerID) {
                return .answer  // Fenced in the index, or by a record already durable.
            }
            ledger.fenced = true
            state.ledgers[ledgerID] = ledger
            state.changedLedgers.insert(ledgerID)
            if let failure = self.enqueue(.fence(ledgerID: ledgerID), on: state.journal, completion: { result in completion(result.flatMap { answer() }) }) {
                return .refuse(failure)
            }
            return .journaled
        }
        switch step {
        case .refuse(let refusal): completion(.failure(refusal))
        case .answer: completion(answer())
        case .journaled: break
        }
    }

    /// The ledger's state from the index when memory holds none (read outside the state
    /// lock: it is a RocksDB read); nil when memory holds it or nobody does.
    private func indexedStateIfNotInMemory(_ ledgerID: UInt64) throws(Refusal) -> LedgerState? {
        if self.state.withLock({ $0.ledgers[ledgerID] != nil }) { return nil }
        do {
            return try self.index.state(ledgerID: ledgerID)
        } catch {
            throw Refusal(.ioError, error.message)
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

    func journalAndApply(_ record: JournalRecord) async throws(Refusal) {
        let result = await withCheckedContinuation { continuation in
            self.journalAndApply(record) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    /// Journals `record` and, once it is durable, applies it to the state — on the journal
    /// thread, in journal order, so `applied` only grows — then calls `completion`.
    func journalAndApply(_ record: JournalRecord, completion: @escaping @Sendable (Result<Void, Refusal>) -> Void) {
        let journal = self.state.withLock { $0.journal }
        if let failure = self.enqueue(record, on: journal, completion: completion) { completion(.failure(failure)) }
    }

    /// Queues `record` as ``journalAndApply(_:completion:)`` does, but returns the refusal
    /// instead of calling `completion` when the journal takes nothing more, so that it may
    /// be called under the state lock.
    func enqueue(_ record: JournalRecord, on journal: Journal, completion: @escaping @Sendable (Result<Void, Refusal>) -> Void) -> Refusal? {
        let refused = journal.enqueue(record) { result in
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
        return refused.map { Refusal(.ioError, $0.message) }
    }

    // MARK: Data loss

    /// Whether this bookie may have lost entries of the ledger: its id is at or below the
    /// configured unknown-state horizon.
    public func mayHaveLostEntries(_ ledgerID: UInt64) -> Bool {
        ledgerID <= self.horizon
    }
}

extension JournalRecord {
    var ledgerID: UInt64 {
        switch self {
        case .entry(let id, _, _), .fence(let id), .ledgerKey(let id, _), .lastAddConfirmed(let id, _): id
        }
    }
}
