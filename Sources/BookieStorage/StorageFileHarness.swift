import Codec
import Foundation
import NIOCore

/// The bookie's stored files as a fuzzer damages them, with no store: an input's bytes
/// become a journal file (the newest, or an older one), an entry log, or index values
/// pointing into an entry log, and are read as a bookie reads them at start and on every
/// read (journal replay, entry log scan and read, index value decoding). Damage must end
/// in a `corrupt` error or a cut torn tail, never a trap. `Sources/Fuzzing/StorageFiles`
/// runs it under libFuzzer.
///
/// The first byte picks what the rest is (its value modulo 4):
/// 0: the newest journal file; 1: an older journal file (a newer one follows it);
/// 2: an entry log file; 3: 20 bytes of an entry's index value, 8 of a checkpoint
/// value and the rest a ledger state value, read over a small entry log of one entry.
public enum StorageFileHarness {
    /// Where the files of the input being run go (created once per process).
    private static let directory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = (base as NSString).appendingPathComponent("magnetar-storage-fuzz-\(getpid())")
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    public static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let mode = bytes.first else { return }
        let rest = Array(bytes.dropFirst())
        let directory = Self.directory
        defer {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
            }
        }
        switch mode % 4 {
        case 0:
            Self.replayJournal(files: [rest], in: directory)
        case 1:
            Self.replayJournal(files: [rest, JournalFile.header(2)], in: directory)
        case 2:
            Self.readEntryLog(rest, in: directory)
        default:
            Self.readIndexValues(rest, in: directory)
        }
    }

    /// Journal files 1, 2, … with these contents, replayed from the start and from a
    /// position inside the first.
    private static func replayJournal(files: [[UInt8]], in directory: String) {
        for (index, contents) in files.enumerated() {
            Self.write(contents, to: JournalFile.path(directory, UInt64(index + 1)))
        }
        let middle = JournalPosition(fileID: 1, offset: UInt64((files.first?.count ?? 0) / 2))
        for start in [JournalPosition.start, middle] {
            _ = try? Journal.replay(directory: directory, from: start) { record, _ in
                if case .entry(_, _, let bytes) = record { _ = bytes.readableBytes }
            }
        }
    }

    /// The bytes as entry log 1: scanned, and every record the scan finds read back.
    private static func readEntryLog(_ contents: [UInt8], in directory: String) {
        Self.write(contents, to: EntryLog.path(directory, 1))
        guard let log = try? EntryLog(directory: directory, number: 0, after: 1) else { return }
        var locations: [(UInt64, UInt64, EntryLocation)] = []
        try? log.scan(1) { ledgerID, entryID, location in
            if locations.count < 1000 { locations.append((ledgerID, entryID, location)) }
        }
        for (ledgerID, entryID, location) in locations {
            _ = try? log.read(location, ledgerID: ledgerID, entryID: entryID)
        }
    }

    /// Index values decoded and an entry read where the location value points, in a log
    /// holding entry 1:0.
    private static func readIndexValues(_ values: [UInt8], in directory: String) {
        guard let log = try? EntryLog(directory: directory, number: 0) else { return }
        guard (try? log.append(ledgerID: 1, entryID: 0, bytes: ByteBuffer(repeating: 7, count: 40))) != nil,
            (try? log.flush()) != nil
        else { return }
        let location = Array(values.prefix(20))
        if let decoded = try? EntryIndex.location(decoding: location, of: 1, 0) {
            _ = try? log.read(decoded, ledgerID: 1, entryID: 0)
        }
        let checkpoint = Array(values.dropFirst(20).prefix(16))
        if let position = try? EntryIndex.checkpoint(decoding: checkpoint) {
            _ = try? Journal.replay(directory: directory, from: position) { _, _ in }
        }
        _ = try? EntryIndex.state(decoding: Array(values.dropFirst(36)), of: 1)
    }

    private static func write(_ contents: [UInt8], to path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(contents))
    }

    /// Seed inputs: a journal of each record kind, the same as an older file, an entry log
    /// of three entries, and index values that point at a real entry.
    public static func seeds() -> [[UInt8]] {
        var batch = ByteBuffer()
        let records: [JournalRecord] = [
            .ledgerKey(ledgerID: 1, key: Array("key".utf8)),
            .entry(ledgerID: 1, entryID: 0, bytes: ByteBuffer(repeating: 3, count: 32)),
            .lastAddConfirmed(ledgerID: 1, lac: 0),
            .fence(ledgerID: 1),
        ]
        for record in records { record.write(into: &batch) }
        var journal = JournalFile.header(1)
        journal += Self.bigEndian(UInt32(batch.readableBytes)) + Self.bigEndian(CRC32C.checksum(batch))
        journal += Array(batch.readableBytesView)
        journal += [UInt8](repeating: 0, count: 64)

        // An entry log as the store writes one, read back from its file.
        let directory = Self.directory
        defer { try? FileManager.default.removeItem(atPath: EntryLog.path(directory, 1)) }
        var log: [UInt8] = []
        if let writer = try? EntryLog(directory: directory, number: 0) {
            for entry in 0..<3 { _ = try? writer.append(ledgerID: 1, entryID: UInt64(entry), bytes: ByteBuffer(repeating: UInt8(entry), count: 24)) }
            try? writer.flush()
            log = (try? Array(Data(contentsOf: URL(fileURLWithPath: EntryLog.path(directory, writer.currentID))))) ?? []
        }

        let location = Self.bigEndian(UInt64(1)) + Self.bigEndian(UInt64(EntryLog.headerSize)) + Self.bigEndian(UInt32(EntryLog.recordHeaderSize + 40))
        let checkpoint = Self.bigEndian(UInt64(1)) + Self.bigEndian(UInt64(JournalFile.headerSize))
        let state = [UInt8(0)] + Self.bigEndian(UInt64(0)) + Self.bigEndian(UInt16(3)) + Array("key".utf8)
        return [[0] + journal, [1] + journal, [2] + log, [3] + location + checkpoint + state]
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var bytes = Bytes()
        bytes.append(value)
        return bytes.bytes
    }
}
