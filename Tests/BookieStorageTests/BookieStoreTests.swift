import BookieStorage
import BookieWire
import ClusterTesting
import Foundation
import NIOCore
import Testing

@Suite("Bookie store", .timeLimit(.minutes(2)))
struct BookieStoreTests {
    static let key = Array("ledger-key".utf8)

    static func encoded(_ ledger: UInt64, _ entry: UInt64, lac: Int64? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        let payload = ByteBuffer(string: "entry \(entry) of ledger \(ledger)")
        LedgerEntry(ledgerID: ledger, entryID: entry, lastAddConfirmed: lac ?? Int64(entry) - 1, ledgerLength: 0, payload: payload)
            .write(into: &buffer)
        return buffer
    }

    static func open(_ directory: TemporaryDirectory) throws -> BookieStore {
        try BookieStore.open(
            .init(
                journal: .init(directory: directory.file("journal"), preallocationStep: 256 << 10),
                ledgerDirectory: directory.file("ledgers")
            )
        )
    }

    static func refusal(_ body: () async throws -> Void) async -> BookieStore.Refusal? {
        do {
            try await body()
        } catch let refusal as BookieStore.Refusal {
            return refusal
        } catch {
            Issue.record("unexpected \(error)")
        }
        return nil
    }

    @Test func entriesReadBackFromCacheLogsAndAfterReopen() async throws {
        let directory = try TemporaryDirectory(label: "store")
        defer { directory.remove() }
        var store = try Self.open(directory)
        for ledger: UInt64 in [1, 2] {
            for entry: UInt64 in 0..<50 { _ = try await store.addEntry(Self.encoded(ledger, entry), ledgerKey: Self.key, recovery: false) }
        }
        #expect(try store.readEntry(ledgerID: 1, entryID: 7) == Self.encoded(1, 7))
        try store.flush()
        #expect(store.cachedBytes == 0)
        #expect(try store.readEntry(ledgerID: 2, entryID: 49) == Self.encoded(2, 49))
        #expect(try store.ledgerState(2)?.lastAddConfirmed == 48)
        store.close()
        store = try Self.open(directory)
        for ledger: UInt64 in [1, 2] {
            for entry: UInt64 in 0..<50 { #expect(try store.readEntry(ledgerID: ledger, entryID: entry) == Self.encoded(ledger, entry)) }
        }
        #expect(await Self.refusal { _ = try store.readEntry(ledgerID: 1, entryID: 50) }?.status == .noEntry)
        #expect(await Self.refusal { _ = try store.readEntry(ledgerID: 3, entryID: 0) }?.status == .noLedger)
        store.close()
    }

    @Test func unflushedEntriesComeBackFromTheJournal() async throws {
        let directory = try TemporaryDirectory(label: "store-replay")
        defer { directory.remove() }
        var store = try Self.open(directory)
        for entry: UInt64 in 0..<30 { _ = try await store.addEntry(Self.encoded(1, entry), ledgerKey: Self.key, recovery: false) }
        try store.flush()
        for entry: UInt64 in 30..<60 { _ = try await store.addEntry(Self.encoded(1, entry), ledgerKey: Self.key, recovery: false) }
        store.close()  // No flush: entries 30..<60 live only in the journal.
        store = try Self.open(directory)
        for entry: UInt64 in 0..<60 { #expect(try store.readEntry(ledgerID: 1, entryID: entry) == Self.encoded(1, entry)) }
        #expect(try store.ledgerState(1)?.lastAddConfirmed == 58)
        try store.flush()
        store.close()
        let journals = try FileManager.default.contentsOfDirectory(atPath: directory.file("journal")).filter { $0.hasPrefix("journal-") }
        #expect(journals.count == 1, "files before the checkpoint were deleted: \(journals)")
        store = try Self.open(directory)
        #expect(try store.readEntry(ledgerID: 1, entryID: 59) == Self.encoded(1, 59))
        store.close()
    }

    @Test func fencingRefusesNormalAddsButNotRecoveryAddsAndSurvivesRestarts() async throws {
        let directory = try TemporaryDirectory(label: "store-fence")
        defer { directory.remove() }
        var store = try Self.open(directory)
        _ = try await store.addEntry(Self.encoded(9, 0), ledgerKey: Self.key, recovery: false)
        #expect(try await store.fence(ledgerID: 9, ledgerKey: Self.key) == -1)
        #expect(await Self.refusal { _ = try await store.addEntry(Self.encoded(9, 1), ledgerKey: Self.key, recovery: false) }?.status == .fenced)
        _ = try await store.addEntry(Self.encoded(9, 1), ledgerKey: Self.key, recovery: true)
        #expect(try store.readEntry(ledgerID: 9, entryID: 1) == Self.encoded(9, 1))
        store.close()
        store = try Self.open(directory)  // Fence state from the journal.
        #expect(await Self.refusal { _ = try await store.addEntry(Self.encoded(9, 2), ledgerKey: Self.key, recovery: false) }?.status == .fenced)
        try store.flush()
        store.close()
        store = try Self.open(directory)  // Fence state from the index.
        #expect(try store.ledgerState(9)?.fenced == true)
        #expect(await Self.refusal { _ = try await store.addEntry(Self.encoded(9, 2), ledgerKey: Self.key, recovery: false) }?.status == .fenced)
        store.close()
    }

    @Test func corruptEntriesAndWrongKeysAreRefused() async throws {
        let directory = try TemporaryDirectory(label: "store-refuse")
        defer { directory.remove() }
        let store = try Self.open(directory)
        var corrupt = Self.encoded(4, 0)
        corrupt.setInteger(UInt8(0xFF), at: corrupt.writerIndex - 1)
        #expect(await Self.refusal { _ = try await store.addEntry(corrupt, ledgerKey: Self.key, recovery: false) }?.status == .corruptEntry)
        #expect(await Self.refusal { _ = try store.readEntry(ledgerID: 4, entryID: 0) }?.status == .noLedger, "nothing was stored")
        _ = try await store.addEntry(Self.encoded(4, 0), ledgerKey: Self.key, recovery: false)
        #expect(await Self.refusal { _ = try await store.addEntry(Self.encoded(4, 1), ledgerKey: [1], recovery: false) }?.status == .unauthorized)
        #expect(await Self.refusal { _ = try await store.fence(ledgerID: 4, ledgerKey: [1]) }?.status == .unauthorized)
        #expect(try store.ledgerState(4)?.fenced == false)
        store.close()
    }
}
