import BookieStorage
import BookieWire
import ClusterTesting
import Foundation
import NIOCore
import Testing

@Suite("Bookie store: directories, data loss, garbage collection", .timeLimit(.minutes(2)))
struct GarbageCollectionTests {
    static let key = BookieStoreTests.key

    /// An entry with a payload of `size` bytes that names its ledger and entry.
    static func encoded(_ ledger: UInt64, _ entry: UInt64, size: Int = 100) -> ByteBuffer {
        var buffer = ByteBuffer()
        var payload = ByteBuffer(string: "entry \(entry) of ledger \(ledger) ")
        payload.writeRepeatingByte(UInt8(truncatingIfNeeded: ledger &+ entry), count: max(0, size - payload.readableBytes))
        LedgerEntry(ledgerID: ledger, entryID: entry, lastAddConfirmed: Int64(entry) - 1, ledgerLength: 0, payload: payload)
            .write(into: &buffer)
        return buffer
    }

    static func open(_ directory: TemporaryDirectory, ledgerDirectories: Int = 1, horizon: UInt64 = 0, logSize: Int = 1 << 30) throws -> BookieStore {
        try BookieStore.open(
            .init(
                journal: .init(directory: directory.file("journal"), preallocationStep: 256 << 10),
                ledgerDirectories: (0..<ledgerDirectories).map { directory.file("ledgers-\($0)") },
                unknownStateHorizon: horizon,
                entryLogFileSize: logSize
            )
        )
    }

    static func entryLogs(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: (path as NSString).appendingPathComponent("entrylogs"))) ?? []).sorted()
    }

    static func bytes(ofLogsIn path: String) throws -> Int {
        try self.entryLogs(path).reduce(0) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: (path as NSString).appendingPathComponent("entrylogs/\(name)"))
            return total + ((attributes[.size] as? Int) ?? 0)
        }
    }

    @Test func ledgersSpreadOverDirectoriesAndReadBackAfterReopen() async throws {
        let directory = try TemporaryDirectory(label: "store-dirs")
        defer { directory.remove() }
        var store = try Self.open(directory, ledgerDirectories: 3)
        for ledger: UInt64 in 1...6 {
            for entry: UInt64 in 0..<20 { _ = try await store.addEntry(Self.encoded(ledger, entry), ledgerKey: Self.key, recovery: false) }
        }
        try store.flush()
        store.close()
        for number in 0..<3 {
            #expect(try Self.bytes(ofLogsIn: directory.file("ledgers-\(number)")) > 2 * 20 * 100, "directory \(number) holds two ledgers")
        }
        store = try Self.open(directory, ledgerDirectories: 3)
        for ledger: UInt64 in 1...6 {
            for entry: UInt64 in 0..<20 { #expect(try store.readEntry(ledgerID: ledger, entryID: entry) == Self.encoded(ledger, entry)) }
        }
        store.close()
    }

    @Test func ledgersBelowTheHorizonAnswerUnknownNeverAbsent() async throws {
        let directory = try TemporaryDirectory(label: "store-horizon")
        defer { directory.remove() }
        let store = try Self.open(directory, horizon: 5)
        let status = { (body: () async throws -> Void) async in await BookieStoreTests.refusal(body)?.status }
        #expect(await status { _ = try store.readEntry(ledgerID: 3, entryID: 0) } == .unknownLedgerState)
        #expect(await status { _ = try store.lastAddConfirmed(ledgerID: 3) } == .unknownLedgerState)
        #expect(await status { _ = try store.readEntry(ledgerID: 6, entryID: 0) } == .noLedger, "a ledger created after the loss")
        #expect(await status { _ = try await store.addEntry(Self.encoded(3, 4), ledgerKey: Self.key, recovery: false) } == .unknownLedgerState)
        _ = try await store.addEntry(Self.encoded(3, 4), ledgerKey: Self.key, recovery: true)
        #expect(try store.readEntry(ledgerID: 3, entryID: 4) == Self.encoded(3, 4))
        #expect(await status { _ = try store.readEntry(ledgerID: 3, entryID: 2) } == .unknownLedgerState, "present entries do not make absent ones certain")
        #expect(await status { _ = try await store.fence(ledgerID: 3, ledgerKey: Self.key) } == .unknownLedgerState)
        #expect(try store.ledgerState(3)?.fenced == true, "the fence is recorded even so")
        _ = try await store.addEntry(Self.encoded(6, 0), ledgerKey: Self.key, recovery: false)
        #expect(await status { _ = try store.readEntry(ledgerID: 6, entryID: 1) } == .noEntry)
        store.close()
    }

    @Test func anEmptiedJournalDirectoryDoesNotHideLaterEntriesFromReplay() async throws {
        let directory = try TemporaryDirectory(label: "store-journal-emptied")
        defer { directory.remove() }
        var store = try Self.open(directory)
        for _ in 0..<3 {
            // Each open starts a journal file; the checkpoint moves to the newest.
            for entry: UInt64 in 0..<10 { _ = try await store.addEntry(Self.encoded(1, entry), ledgerKey: Self.key, recovery: false) }
            try store.flush()
            store.close()
            store = try Self.open(directory)
        }
        store.close()
        try FileManager.default.removeItem(atPath: directory.file("journal"))
        store = try Self.open(directory)
        _ = try await store.addEntry(Self.encoded(2, 0), ledgerKey: Self.key, recovery: false)
        store.close()  // Only in the new journal, whose file id must be past the checkpoint's.
        store = try Self.open(directory)
        #expect(try store.readEntry(ledgerID: 2, entryID: 0) == Self.encoded(2, 0))
        store.close()
    }

    @Test func deletedLedgersGoAndCompactionReclaimsTheirSpace() async throws {
        let directory = try TemporaryDirectory(label: "store-gc")
        defer { directory.remove() }
        var store = try Self.open(directory, logSize: 256 << 10)
        // Four ledgers interleaved, so every entry log holds some of each.
        for entry: UInt64 in 0..<400 {
            for ledger: UInt64 in 1...4 { _ = try await store.addEntry(Self.encoded(ledger, entry, size: 500), ledgerKey: Self.key, recovery: false) }
            if entry % 50 == 49 { try store.flush() }
        }
        try store.flush()
        let before = try Self.bytes(ofLogsIn: directory.file("ledgers-0"))
        let logsBefore = Self.entryLogs(directory.file("ledgers-0")).count
        #expect(logsBefore >= 4)

        try store.deleteLedgers([1, 2, 3])
        #expect(try store.ledgerIDs() == [4])
        #expect(await BookieStoreTests.refusal { _ = try store.readEntry(ledgerID: 2, entryID: 10) }?.status == .noLedger)
        var paced = 0
        let result = try store.compact(belowLiveRatio: 0.5) { paced += $0 }
        #expect(result.logsRemoved == logsBefore - 1, "every complete log was three-quarters garbage")
        #expect(paced == result.bytesMoved)
        let after = try Self.bytes(ofLogsIn: directory.file("ledgers-0"))
        #expect(after < before / 2, "\(before) bytes of entry logs became \(after)")
        for entry: UInt64 in 0..<400 { #expect(try store.readEntry(ledgerID: 4, entryID: entry) == Self.encoded(4, entry, size: 500)) }
        #expect(try store.compact(belowLiveRatio: 0.5).logsRemoved <= 1, "at most the log that was current is left to compact")
        store.close()

        store = try Self.open(directory, logSize: 256 << 10)
        for entry: UInt64 in 0..<400 { #expect(try store.readEntry(ledgerID: 4, entryID: entry) == Self.encoded(4, entry, size: 500)) }
        #expect(await BookieStoreTests.refusal { _ = try store.readEntry(ledgerID: 1, entryID: 0) }?.status == .noLedger)
        store.close()
    }

    @Test func compactionLeavesMostlyLiveLogsAlone() async throws {
        let directory = try TemporaryDirectory(label: "store-gc-live")
        defer { directory.remove() }
        let store = try Self.open(directory, logSize: 128 << 10)
        for entry: UInt64 in 0..<300 {
            for ledger: UInt64 in 1...4 { _ = try await store.addEntry(Self.encoded(ledger, entry, size: 400), ledgerKey: Self.key, recovery: false) }
            if entry % 10 == 9 { try store.flush() }  // A flush writes ledger by ledger: keep each log mixed.
        }
        try store.flush()
        let logs = Self.entryLogs(directory.file("ledgers-0"))
        try store.deleteLedgers([1])
        #expect(try store.compact(belowLiveRatio: 0.5).logsRemoved == 0, "three-quarters live is above the threshold")
        #expect(Self.entryLogs(directory.file("ledgers-0")) == logs)
        store.close()
    }
}
