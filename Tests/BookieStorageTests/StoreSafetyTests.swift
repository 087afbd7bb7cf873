@testable import BookieStorage
import BookieWire
import ClusterTesting
import Foundation
import NIOCore
import Testing

/// The store's answers to the storage faults that could lose an acknowledged entry, let a
/// fenced ledger take writes again, or keep a bookie from starting.
@Suite("Bookie store safety", .timeLimit(.minutes(2)))
struct StoreSafetyTests {
    static let key = BookieStoreTests.key

    static func open(_ directory: TemporaryDirectory, syncDelay: Duration = .zero) throws -> BookieStore {
        var journal = Journal.Configuration(directory: directory.file("journal"), preallocationStep: 256 << 10)
        journal.testingSyncDelay = syncDelay
        return try BookieStore.open(.init(journal: journal, ledgerDirectory: directory.file("ledgers")))
    }

    /// A fence takes effect before its journal record is durable: a normal add that arrives
    /// while the fence is still being synced is refused, not journaled behind it.
    @Test func aFenceRefusesAddsBeforeItIsDurable() async throws {
        let directory = try TemporaryDirectory(label: "store-fence-now")
        defer { directory.remove() }
        let store = try Self.open(directory, syncDelay: .milliseconds(200))
        _ = try await store.addEntry(BookieStoreTests.encoded(3, 0), ledgerKey: Self.key, recovery: false)
        let fenced = AsyncStream<Result<Int64, BookieStore.Refusal>>.makeStream()
        store.fence(ledgerID: 3, ledgerKey: Self.key) { fenced.continuation.yield($0) }
        // The fence is still waiting for its sync when this add arrives.
        let refusal = await BookieStoreTests.refusal {
            _ = try await store.addEntry(BookieStoreTests.encoded(3, 1), ledgerKey: Self.key, recovery: false)
        }
        #expect(refusal?.status == .fenced)
        var results = fenced.stream.makeAsyncIterator()
        #expect(try await results.next()?.get() == -1, "the fence answers the LAC the bookie knew before it: that of entry 0")
        #expect(await BookieStoreTests.refusal { _ = try store.readEntry(ledgerID: 3, entryID: 1) }?.status == .noEntry)
        store.close()
    }

    /// A flush that fails keeps the ledger states it was writing, so a later flush writes
    /// them and a restart still finds the ledger fenced.
    @Test func aFailedFlushKeepsLedgerStates() async throws {
        let directory = try TemporaryDirectory(label: "store-flush-fail")
        defer { directory.remove() }
        var store = try Self.open(directory)
        _ = try await store.addEntry(BookieStoreTests.encoded(5, 0), ledgerKey: Self.key, recovery: false)
        #expect(try await store.fence(ledgerID: 5, ledgerKey: Self.key) == -1)
        store.testingFailFlushes(1)
        #expect(throws: StorageError.self) { try store.flush() }
        try store.flush()
        store.close()
        // The checkpoint is past the fence record: only the index can know of the fence.
        store = try Self.open(directory)
        #expect(try store.ledgerState(5)?.fenced == true)
        let refusal = await BookieStoreTests.refusal {
            _ = try await store.addEntry(BookieStoreTests.encoded(5, 1), ledgerKey: Self.key, recovery: false)
        }
        #expect(refusal?.status == .fenced)
        #expect(try store.readEntry(ledgerID: 5, entryID: 0) == BookieStoreTests.encoded(5, 0))
        store.close()
    }

    /// A torn journal tail is cut on disk when the store opens, so a crash before the next
    /// checkpoint does not leave it in an older file where replay would refuse it.
    @Test func aTornTailSurvivesASecondCrash() async throws {
        let directory = try TemporaryDirectory(label: "store-torn-twice")
        defer { directory.remove() }
        var store = try Self.open(directory)
        for entry: UInt64 in 0..<20 {
            _ = try await store.addEntry(BookieStoreTests.encoded(7, entry), ledgerKey: Self.key, recovery: false)
        }
        store.close()  // No flush: the entries live in the journal only.
        let journal = directory.file("journal")
        let newest = try #require(try JournalFile.ids(in: journal).last)
        let summary = try Journal.replay(directory: journal) { _, _ in }
        #expect(summary.end.fileID == newest)
        // A batch whose write was cut short: a header promising more than is there.
        let handle = try #require(FileHandle(forUpdatingAtPath: JournalFile.path(journal, newest)))
        try handle.seek(toOffset: summary.end.offset)
        try handle.write(contentsOf: [0, 0, 0x10, 0, 0xDE, 0xAD, 0xBE, 0xEF] + [UInt8](repeating: 0x5A, count: 300))
        try handle.close()

        store = try Self.open(directory)
        _ = try await store.addEntry(BookieStoreTests.encoded(7, 20), ledgerKey: Self.key, recovery: false)
        store.close()  // A second crash before any flush.
        store = try Self.open(directory)
        for entry: UInt64 in 0...20 {
            #expect(try store.readEntry(ledgerID: 7, entryID: entry) == BookieStoreTests.encoded(7, entry))
        }
        store.close()
    }

    /// An entry log that cannot create its next file keeps writing the current one: its
    /// descriptor is not closed (twice, later, when the number may be another file's).
    @Test func aFailedEntryLogRollKeepsItsDescriptor() throws {
        let directory = try TemporaryDirectory(label: "entrylog-roll-fail")
        defer { directory.remove() }
        let log = try EntryLog(directory: directory.path, maxFileSize: 4096)
        // The next file's name is taken, so creating it fails.
        let blocker = EntryLog.path(directory.path, log.currentID + 1)
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data([1])))
        let bytes = ByteBuffer(repeating: 7, count: 1000)
        var failed = false
        for entry: UInt64 in 0..<8 {
            do {
                _ = try log.append(ledgerID: 1, entryID: entry, bytes: bytes)
            } catch {
                failed = true
                break
            }
        }
        #expect(failed, "the roll failed")
        #expect(fcntl(log.descriptor, F_GETFD) != -1, "the current file's descriptor is still open")
        try FileManager.default.removeItem(atPath: blocker)
        let location = try log.append(ledgerID: 1, entryID: 100, bytes: bytes)
        try log.flush()
        #expect(try log.read(location, ledgerID: 1, entryID: 100).readableBytes > 0)
    }

    /// A store whose index is gone while its entry logs remain refuses to open: it would
    /// answer "no such entry" for entries it holds.
    @Test func aLostIndexIsRefused() async throws {
        let directory = try TemporaryDirectory(label: "store-lost-index")
        defer { directory.remove() }
        var store = try Self.open(directory)
        _ = try await store.addEntry(BookieStoreTests.encoded(8, 0), ledgerKey: Self.key, recovery: false)
        try store.flush()
        store.close()
        try FileManager.default.removeItem(atPath: directory.file("ledgers/index"))
        do {
            store = try Self.open(directory)
            Issue.record("the store opened without its index: entry 8:0 reads as \(String(describing: try? store.readEntry(ledgerID: 8, entryID: 0)))")
            store.close()
        } catch let error as StorageError {
            #expect(error.code == .corrupt)
            #expect(error.message.contains("index"))
        }
    }

    /// Opening a store whose newest journal file holds nothing reuses that file instead of
    /// starting another: a bookie that cannot start does not fill its disk with files.
    @Test func reopeningDoesNotPileUpEmptyJournalFiles() throws {
        let directory = try TemporaryDirectory(label: "store-reopen")
        defer { directory.remove() }
        for _ in 0..<5 {
            let store = try Self.open(directory)
            store.close()
        }
        let journals = try JournalFile.ids(in: directory.file("journal"))
        let logs = try EntryLog.ids(in: directory.file("ledgers/entrylogs"))
        #expect(journals.count == 1, "journal files: \(journals)")
        #expect(logs.count == 1, "entry log files: \(logs)")
    }
}
