import Foundation
import Synchronization

extension BookieStore {
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
                state.durablyFenced.remove(ledgerID)
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
            // Still marked changed until the flush succeeds: a failed flush must not forget
            // them, or a later one would checkpoint past their records without them.
            let changed = Dictionary(uniqueKeysWithValues: state.changedLedgers.compactMap { id in state.ledgers[id].map { (id, $0) } })
            if state.flushing.isEmpty {
                state.flushing = state.cache
            } else {
                // The last flush failed: its entries are written again, under newer ones.
                state.flushing.merge(state.cache)
            }
            state.cache = WriteCache()
            return (state.flushing, changed, state.applied)
        }
        if self.failingFlushes.load(ordering: .relaxed) > 0 {
            self.failingFlushes.subtract(1, ordering: .relaxed)
            throw StorageError(.io, "a flush failure injected by a test")
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
            // What changed again meanwhile stays marked for the next flush.
            for (ledgerID, written) in ledgers where state.ledgers[ledgerID] == written {
                state.changedLedgers.remove(ledgerID)
            }
        }
        for id in try JournalFile.ids(in: self.journalDirectory) where id < checkpoint.fileID {
            try? FileManager.default.removeItem(atPath: JournalFile.path(self.journalDirectory, id))
        }
    }

    /// For tests: makes the next `count` flushes fail after they took their snapshot of the
    /// write cache and ledger states, as a failed entry-log or index write would.
    func testingFailFlushes(_ count: Int) {
        self.failingFlushes.store(count, ordering: .relaxed)
    }

    /// Whether normal adds are refused (recovery adds are still accepted). Set by the
    /// bookie's disk monitor.
    public var isReadOnly: Bool {
        get { self.readOnlyFlag.load(ordering: .relaxed) }
        set { self.readOnlyFlag.store(newValue, ordering: .relaxed) }
    }

    /// Whether recovery adds are refused too: the disks are so full that copies made for
    /// re-replication or recovery would fill them. Set by the bookie's disk monitor.
    public var isFull: Bool {
        get { self.fullFlag.load(ordering: .relaxed) }
        set { self.fullFlag.store(newValue, ordering: .relaxed) }
    }

    /// Why the store cannot take adds, if its journal failed.
    public var journalFailure: StorageError? { self.state.withLock { $0.journal }.failure }

    /// Opens a new journal file if the journal failed for want of space (nothing was
    /// written then, so the records before the failure stay intact). Returns whether it
    /// did; throws when there is still no room.
    public func reopenJournalIfOutOfSpace() throws(StorageError) -> Bool {
        let failed = self.state.withLock { $0.journal }
        guard failed.failure?.code == .noSpace else { return false }
        let fresh = try Journal.open(self.journalConfiguration, after: failed.currentFileID)
        self.state.withLock { $0.journal = fresh }
        failed.close()
        return true
    }

    /// Records waiting for the journal thread.
    public var journalQueueDepth: Int { self.state.withLock { $0.journal }.queueDepth }

    /// Bytes of acknowledged entries waiting for the next flush.
    public var cachedBytes: Int { self.state.withLock { $0.cache.bytes + $0.flushing.bytes } }

    /// Stops the journal and releases the index. Call ``flush()`` first to avoid a replay
    /// at the next open. Nothing may use the store afterwards.
    public func close() {
        self.state.withLock { $0.journal }.close()
        self.flushLock.lock()
        self.index.close()
        self.flushLock.unlock()
    }
}
