@testable import BookieStorage
import ClusterTesting
import Foundation
import NIOCore
import Testing

/// Damaged index values and journal positions: each is refused as `corrupt` (or reads
/// nothing), and none stops the process. The fuzz harness's seeds are real files.
@Suite("Damaged bookie files", .timeLimit(.minutes(1)))
struct DamagedFileTests {
    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// An entry log holding entry 1:0 (8 bytes), flushed.
    static func logOfOneEntry(in directory: TemporaryDirectory) throws -> EntryLog {
        let log = try EntryLog(directory: directory.file("logs"))
        _ = try log.append(ledgerID: 1, entryID: 0, bytes: ByteBuffer(repeating: 1, count: 8))
        try log.flush()
        return log
    }

    /// An index value pointing at an offset past 2^63 (a file offset is a signed 64-bit
    /// number): refused as corrupt, never read.
    @Test func anEntryLocationPastTheLargestFileOffsetIsCorrupt() throws {
        let directory = try TemporaryDirectory(label: "damaged-location")
        defer { directory.remove() }
        let log = try Self.logOfOneEntry(in: directory)
        let value = Self.bigEndian(log.currentID) + Self.bigEndian(UInt64(1) << 63) + Self.bigEndian(UInt32(32))
        #expect(throws: StorageError.self) {
            let location = try EntryIndex.location(decoding: value, of: 1, 0)
            _ = try log.read(location, ledgerID: 1, entryID: 0)
        }
    }

    /// A location whose length no record can have is corrupt before anything is allocated
    /// for it.
    @Test func anEntryLocationLongerThanAnyRecordIsCorrupt() throws {
        let directory = try TemporaryDirectory(label: "damaged-length")
        defer { directory.remove() }
        let log = try Self.logOfOneEntry(in: directory)
        let location = EntryLocation(logID: log.currentID, offset: UInt64(EntryLog.headerSize), length: .max)
        let error = #expect(throws: StorageError.self) { try log.read(location, ledgerID: 1, entryID: 0) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("longer than") == true)
    }

    /// A checkpoint whose offset is past 2^63: refused as corrupt when decoded, and a
    /// replay from such a position reads nothing rather than stopping.
    @Test func aCheckpointPastTheLargestOffsetIsCorrupt() throws {
        let value = Self.bigEndian(UInt64(1)) + Self.bigEndian(UInt64.max)
        let error = #expect(throws: StorageError.self) { try EntryIndex.checkpoint(decoding: value) }
        #expect(error?.code == .corrupt)
        let directory = try TemporaryDirectory(label: "damaged-checkpoint")
        defer { directory.remove() }
        for seed in StorageFileHarness.seeds() where seed.first == 0 {
            _ = FileManager.default.createFile(atPath: JournalFile.path(directory.path, 1), contents: Data(seed.dropFirst()))
        }
        var visited = 0
        let summary = try Journal.replay(directory: directory.path, from: JournalPosition(fileID: 1, offset: .max)) { _, _ in visited += 1 }
        #expect(visited == 0 && summary.records == 0)
    }

    /// The harness's seeds are what a bookie writes: the journal replays its four records,
    /// the entry log scans to its three entries, each read back intact.
    @Test func theFuzzSeedsAreRealFiles() throws {
        let seeds = StorageFileHarness.seeds()
        let directory = try TemporaryDirectory(label: "fuzz-seeds")
        defer { directory.remove() }
        let journal = try #require(seeds.first { $0.first == 0 })
        _ = FileManager.default.createFile(atPath: JournalFile.path(directory.path, 1), contents: Data(journal.dropFirst()))
        var kinds: [String] = []
        _ = try Journal.replay(directory: directory.path) { record, _ in kinds.append("\(record)".prefix { $0 != "(" }.description) }
        #expect(kinds == ["ledgerKey", "entry", "lastAddConfirmed", "fence"])
        let logBytes = try #require(seeds.first { $0.first == 2 })
        let logs = directory.file("logs")
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: EntryLog.path(logs, 1), contents: Data(logBytes.dropFirst()))
        let log = try EntryLog(directory: logs, after: 1)
        var read: [UInt64] = []
        try log.scan(1) { ledgerID, entryID, location in
            let entry = try log.read(location, ledgerID: ledgerID, entryID: entryID)
            #expect(entry.readableBytes == 24)
            read.append(entryID)
        }
        #expect(read == [0, 1, 2])
    }
}
