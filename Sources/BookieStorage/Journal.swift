import Codec
import Foundation
import NIOCore

/// The bookie's write-ahead journal: an entry is acknowledged only once its record is on
/// disk.
///
/// Two threads share the work, so that writing one group overlaps syncing the one before:
/// - the journal thread takes everything queued, frames it as one batch, and writes the
///   group when the queue has drained, when the oldest waiting append is `maxGroupWait`
///   old, or when `maxGroupBytes` are buffered;
/// - the sync thread takes every group written since its last turn, makes them durable
///   with one `fdatasync`, and runs their completions in append order.
/// With `syncEachGroup` off, completions run after the write and the journal thread syncs
/// the file once a second.
///
/// Files are preallocated and rolled at `maxFileSize`. Each open starts a new file, so a
/// torn tail left by a crash is never written over; ``replay(directory:from:visit:)``
/// finds and cuts it.
public final class Journal: @unchecked Sendable {
    /// Where and how the journal writes. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        /// The directory of journal files; created if absent.
        public var directory: String
        /// `fdatasync` before acknowledging (default true).
        public var syncEachGroup: Bool
        /// Commit a group once its oldest append has waited this long (default 1 ms).
        public var maxGroupWait: Duration
        /// Commit a group once this many bytes are buffered (default 512 KiB).
        public var maxGroupBytes: Int
        /// Start a new file past this size (default 512 MiB).
        public var maxFileSize: Int
        /// Preallocate files in steps of this size (default 64 MiB).
        public var preallocationStep: Int
        /// Told how long each `fdatasync` took (for metrics; default none).
        public var syncObserver: (@Sendable (Duration) -> Void)?
        /// For tests only: how long the sync thread waits before each `fdatasync`, as a slow
        /// disk would (default zero). The bookie sets it only from its documented testing
        /// flag.
        public var testingSyncDelay: Duration = .zero

        public init(
            directory: String,
            syncEachGroup: Bool = true,
            maxGroupWait: Duration = .milliseconds(1),
            maxGroupBytes: Int = 512 << 10,
            maxFileSize: Int = 512 << 20,
            preallocationStep: Int = 64 << 20
        ) {
            self.directory = directory
            self.syncEachGroup = syncEachGroup
            self.maxGroupWait = maxGroupWait
            self.maxGroupBytes = maxGroupBytes
            self.maxFileSize = maxFileSize
            self.preallocationStep = preallocationStep
        }
    }

    /// Called once per append with the position just past its record, or the failure.
    public typealias Completion = @Sendable (Result<JournalPosition, StorageError>) -> Void

    private struct Pending {
        var record: JournalRecord
        var completion: Completion
        var enqueued: ContinuousClock.Instant
    }

    // Shared with the journal thread, guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var closing = false
    private var failedWith: StorageError?
    private var stopped = false
    private var groups = 0

    /// Groups written and waiting for the sync thread, which runs their completions in
    /// order. Guarded by `syncCondition`.
    private let syncCondition = NSCondition()
    private var written: [WrittenGroup] = []
    private var syncing = false
    private var syncStopping = false
    private var syncStopped = false

    private struct WrittenGroup {
        /// The file written, to sync when `sync` is set.
        var fd: Int32
        var sync: Bool
        var completions: [(Completion, Result<JournalPosition, StorageError>)]
    }

    // Owned by the journal thread.
    private let configuration: Configuration
    private var fileID: UInt64
    private var fd: Int32
    private var fileOffset: Int
    private var allocatedEnd: Int
    private var lastSync = ContinuousClock.now
    private var unsyncedWrites = false
    /// Writes batches past the page cache when every group is synced anyway (and the file
    /// system takes direct I/O); nil: buffered writes.
    private var direct: DirectFileWriter?

    private init(configuration: Configuration, fileID: UInt64, fd: Int32, allocatedEnd: Int) {
        self.configuration = configuration
        self.fileID = fileID
        self.fd = fd
        self.fileOffset = JournalFile.headerSize
        self.allocatedEnd = allocatedEnd
        self.direct = self.directWriter()
    }

    /// A direct writer for the current file, if groups are synced and direct I/O works.
    private func directWriter() -> DirectFileWriter? {
        guard self.configuration.syncEachGroup else { return nil }
        return DirectFileWriter(path: JournalFile.path(self.configuration.directory, self.fileID), written: JournalFile.header(self.fileID))
    }

    /// Opens a journal in `configuration.directory` on a new file after any existing ones
    /// and after `lastUsedFileID` (the checkpoint's file, which may be gone if the directory
    /// was emptied), and starts its thread. Replay existing files first: this does not read
    /// them. A newest file that holds no batch at all is written again instead of starting
    /// another, so that a process that fails to start over and over adds no files.
    public static func open(_ configuration: Configuration, after lastUsedFileID: UInt64 = 0) throws(StorageError) -> Journal {
        do {
            try FileManager.default.createDirectory(atPath: configuration.directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create the journal directory \(configuration.directory): \(error)")
        }
        let newest = try JournalFile.ids(in: configuration.directory).last ?? 0
        let journal: Journal
        if newest >= lastUsedFileID, newest > 0, let (fd, size) = try JournalFile.openIfUnused(configuration.directory, id: newest) {
            journal = Journal(configuration: configuration, fileID: newest, fd: fd, allocatedEnd: size)
        } else {
            let next = max(newest, lastUsedFileID) + 1
            let fd = try JournalFile.create(configuration.directory, id: next, preallocate: configuration.preallocationStep)
            journal = Journal(configuration: configuration, fileID: next, fd: fd, allocatedEnd: max(configuration.preallocationStep, JournalFile.headerSize))
        }
        let thread = Thread { journal.run() }
        thread.name = "journal"
        thread.start()
        let syncThread = Thread { journal.runSyncs() }
        syncThread.name = "journal-sync"
        syncThread.start()
        return journal
    }

    /// A journal that takes nothing, failed with `error` from the start (its file could not
    /// be created), whose files end at `lastFileID`.
    public static func failed(_ configuration: Configuration, lastFileID: UInt64, error: StorageError) -> Journal {
        let journal = Journal(configuration: configuration, fileID: lastFileID, fd: -1, allocatedEnd: 0)
        journal.failedWith = error
        journal.stopped = true
        return journal
    }

    /// The file the journal is writing now; files with smaller ids are complete.
    public var currentFileID: UInt64 {
        self.condition.withLock { self.fileID }
    }

    /// Group commits written so far.
    public var groupsCommitted: Int {
        self.condition.withLock { self.groups }
    }

    /// Why the journal stopped accepting appends, if it did (a write or sync failed).
    public var failure: StorageError? {
        self.condition.withLock { self.failedWith }
    }

    /// Appends waiting for the journal thread.
    public var queueDepth: Int {
        self.condition.withLock { self.queue.count }
    }

    /// Queues `record`; `completion` runs once it is durable (or failed).
    public func append(_ record: JournalRecord, completion: @escaping Completion) {
        if let failure = self.enqueue(record, completion: completion) { completion(.failure(failure)) }
    }

    /// Queues `record` and returns nil, `completion` running once it is durable (or
    /// failed); or returns why the journal takes nothing more, without calling
    /// `completion` — so that callers may hold their own lock while they call this.
    public func enqueue(_ record: JournalRecord, completion: @escaping Completion) -> StorageError? {
        self.condition.lock()
        defer { self.condition.unlock() }
        if let failure = self.failedWith ?? (self.closing ? StorageError(.closed, "the journal is closed") : nil) {
            return failure
        }
        self.queue.append(Pending(record: record, completion: completion, enqueued: .now))
        if self.queue.count == 1 { self.condition.signal() }
        return nil
    }

    /// Appends `record` and returns once it is durable.
    @discardableResult
    public func append(_ record: JournalRecord) async throws(StorageError) -> JournalPosition {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<JournalPosition, StorageError>, Never>) in
            self.append(record) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Commits everything queued, syncs, and stops the thread. Later appends fail.
    public func close() {
        self.condition.lock()
        self.closing = true
        self.condition.broadcast()
        while !self.stopped { self.condition.wait() }
        self.condition.unlock()
    }

    // MARK: The journal thread

    private func run() {
        var batch = ByteBuffer()
        batch.reserveCapacity(self.configuration.maxGroupBytes + (1 << 20))
        var waiting: [(Completion, JournalPosition)] = []
        var group = GroupCommit<ContinuousClock.Instant>(maxWait: self.configuration.maxGroupWait, maxBytes: self.configuration.maxGroupBytes)
        while true {
            self.condition.lock()
            while self.queue.isEmpty && waiting.isEmpty && !self.closing {
                if self.unsyncedWrites {
                    _ = self.condition.wait(until: Date(timeIntervalSinceNow: 1))
                    if self.queue.isEmpty { break }
                } else {
                    self.condition.wait()
                }
            }
            let taken = self.queue
            self.queue.removeAll(keepingCapacity: true)
            let closing = self.closing
            self.condition.unlock()

            if taken.isEmpty && waiting.isEmpty {
                self.syncIfDue(force: closing)
                if closing { break }
                continue
            }
            for item in taken {
                if batch.readableBytes == 0 {
                    batch.writeMultipleIntegers(UInt32(0), UInt32(0))  // The batch header, filled at commit.
                }
                if self.fileOffset + batch.readableBytes + item.record.encodedSize > self.configuration.maxFileSize,
                    self.fileOffset > JournalFile.headerSize || batch.readableBytes > JournalFile.batchHeaderSize
                {
                    self.commit(&batch, &waiting)
                    self.roll()
                    batch.writeMultipleIntegers(UInt32(0), UInt32(0))
                }
                item.record.write(into: &batch)
                let end = JournalPosition(fileID: self.fileID, offset: UInt64(self.fileOffset + batch.readableBytes))
                waiting.append((item.completion, end))
                group.added(queuedAt: item.enqueued)
            }
            let drained = self.condition.withLock { self.queue.isEmpty }
            if group.shouldCommit(now: .now, bytes: batch.readableBytes, queueDrained: drained, closing: closing) {
                self.commit(&batch, &waiting)
                group.committed()
            }
        }
        self.stopSyncs()
        Glibc.close(self.fd)
        self.condition.withLock {
            self.stopped = true
            self.condition.broadcast()
        }
    }

    /// Writes the batch and hands the waiting appends to the sync thread.
    private func commit(_ batch: inout ByteBuffer, _ waiting: inout [(Completion, JournalPosition)]) {
        defer {
            batch.clear()
            waiting.removeAll(keepingCapacity: true)
        }
        guard batch.readableBytes > JournalFile.batchHeaderSize else { return }
        if let failure = self.condition.withLock({ self.failedWith }) {
            self.handOver(sync: false, waiting.map { completion, _ in (completion, .failure(failure)) })
            return
        }
        let length = batch.readableBytes - JournalFile.batchHeaderSize
        let checksum = batch.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[JournalFile.batchHeaderSize...])) }
        batch.setMultipleIntegers(UInt32(length), checksum, at: batch.readerIndex)
        let path = JournalFile.path(self.configuration.directory, self.fileID)
        do throws(StorageError) {
            let end = self.fileOffset + batch.readableBytes
            let written = self.direct?.paddedEnd(adding: batch.readableBytes) ?? end
            if written > self.allocatedEnd {
                let step = self.configuration.preallocationStep
                var newEnd = (written + step - 1) / step * step
                do {
                    try JournalFile.preallocate(self.fd, from: self.allocatedEnd, length: newEnd - self.allocatedEnd, path: path)
                } catch where error.code == .noSpace {
                    // No room for a whole step: take what this group needs, in 64 KiB.
                    newEnd = (written + 0xFFFF) & ~0xFFFF
                    try JournalFile.preallocate(self.fd, from: self.allocatedEnd, length: newEnd - self.allocatedEnd, path: path)
                }
                self.allocatedEnd = newEnd
            }
            try batch.withUnsafeReadableBytes { raw in
                Result { () throws(StorageError) in
                    if let direct = self.direct {
                        try direct.append(raw, path: path)
                    } else {
                        try writeAll(self.fd, raw, at: self.fileOffset, path: path)
                        // Unsynced: the once-a-second sync then finds it mostly on disk
                        // instead of blocking this thread while it writes a second's worth.
                        if !self.configuration.syncEachGroup { startWriteback(self.fd, offset: self.fileOffset, count: raw.count) }
                    }
                }
            }.get()
            self.fileOffset = end
        } catch {
            self.fail(error, waiting)
            return
        }
        self.handOver(sync: self.configuration.syncEachGroup, waiting.map { completion, position in (completion, .success(position)) })
        if !self.configuration.syncEachGroup {
            self.unsyncedWrites = true
            self.condition.withLock { self.groups += 1 }
            self.syncIfDue(force: false)
        }
    }

    /// Queues a written group for the sync thread.
    private func handOver(sync: Bool, _ completions: [(Completion, Result<JournalPosition, StorageError>)]) {
        guard !completions.isEmpty else { return }
        self.syncCondition.withLock {
            self.written.append(WrittenGroup(fd: self.fd, sync: sync, completions: completions))
            if self.written.count == 1 { self.syncCondition.signal() }
        }
    }

    private func syncIfDue(force: Bool) {
        guard self.unsyncedWrites, force || ContinuousClock.now - self.lastSync >= .seconds(1) else { return }
        if self.timedSync(self.fd) {
            self.unsyncedWrites = false
            self.lastSync = .now
        }
    }

    /// `fdatasync`s a file, telling the observer how long it took.
    private func timedSync(_ fd: Int32) -> Bool {
        let start = ContinuousClock.now
        let synced = fdatasync(fd) == 0
        self.configuration.syncObserver?(ContinuousClock.now - start)
        return synced
    }

    /// Finishes the current file and starts the next one.
    private func roll() {
        let path = JournalFile.path(self.configuration.directory, self.fileID)
        do throws(StorageError) {
            // The old file's groups are synced through its descriptor before it closes.
            self.waitForSyncs()
            guard fdatasync(self.fd) == 0 else { throw JournalFile.error("sync \(path)") }
            let next = self.fileID + 1
            let fd = try JournalFile.create(self.configuration.directory, id: next, preallocate: self.configuration.preallocationStep)
            Glibc.close(self.fd)
            self.condition.withLock {
                self.fd = fd
                self.fileID = next
            }
            self.fileOffset = JournalFile.headerSize
            self.allocatedEnd = max(self.configuration.preallocationStep, JournalFile.headerSize)
            self.direct = self.directWriter()
            self.unsyncedWrites = false
        } catch {
            self.fail(error, [])
        }
    }

    /// Fails the given appends and everything queued, and refuses appends from now on.
    private func fail(_ error: StorageError, _ waiting: [(Completion, JournalPosition)]) {
        let queued = self.condition.withLock {
            self.failedWith = self.failedWith ?? error
            defer { self.queue.removeAll() }
            return self.queue
        }
        self.handOver(sync: false, waiting.map { completion, _ in (completion, .failure(error)) } + queued.map { ($0.completion, .failure(error)) })
    }

    // MARK: The sync thread

    private func runSyncs() {
        while true {
            self.syncCondition.lock()
            while self.written.isEmpty && !self.syncStopping { self.syncCondition.wait() }
            let groups = self.written
            self.written.removeAll(keepingCapacity: true)
            self.syncing = !groups.isEmpty
            let stopping = self.syncStopping
            self.syncCondition.unlock()

            // One sync covers every group written before it started. After a failed
            // one nothing more is acknowledged: a later sync may succeed without the data.
            var failure = self.condition.withLock { self.failedWith }
            if failure == nil, let fd = groups.last(where: \.sync)?.fd {
                if self.configuration.testingSyncDelay > .zero { Thread.sleep(for: self.configuration.testingSyncDelay) }
                if self.timedSync(fd) {
                    self.condition.withLock { self.groups += groups.count { $0.sync } }
                } else {
                    let error = JournalFile.error("sync \(JournalFile.path(self.configuration.directory, self.currentFileID))")
                    failure = error
                    self.fail(error, [])
                }
            }
            for group in groups {
                for (completion, result) in group.completions {
                    if group.sync, let failure {
                        completion(.failure(failure))
                    } else {
                        completion(result)
                    }
                }
            }
            self.syncCondition.withLock {
                self.syncing = false
                self.syncCondition.broadcast()
            }
            if stopping && groups.isEmpty { break }
        }
        self.syncCondition.withLock {
            self.syncStopped = true
            self.syncCondition.broadcast()
        }
    }

    /// Returns once every group handed over so far is synced and completed.
    private func waitForSyncs() {
        self.syncCondition.lock()
        while !self.written.isEmpty || self.syncing { self.syncCondition.wait() }
        self.syncCondition.unlock()
    }

    /// Completes what was handed over, then stops the sync thread.
    private func stopSyncs() {
        self.syncCondition.lock()
        self.syncStopping = true
        self.syncCondition.broadcast()
        while !self.syncStopped { self.syncCondition.wait() }
        self.syncCondition.unlock()
    }
}

extension Thread {
    /// Sleeps the calling thread for `duration`.
    static func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }
}
