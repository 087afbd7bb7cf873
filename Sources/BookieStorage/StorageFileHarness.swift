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
/// 2: an entry log file; 3: 20 bytes of an entry's index value, 16 of a checkpoint
/// value and the rest a ledger state value, read over a small entry log of one entry.
public enum StorageFileHarness {
    /// The files the harness reads, made once per process: a log whose file 1 each
    /// entry-log input overwrites in place, and a log holding entry 1:0 for the index values
    /// to point into.
    private final class Files: Sendable {
        let directory: String
        let scanned: EntryLog
        let scannedPath: String
        let pointedInto: EntryLog

        init() {
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            self.directory = (base as NSString).appendingPathComponent("magnetar-storage-fuzz-\(getpid())")
            try? FileManager.default.removeItem(atPath: self.directory)
            let scan = (self.directory as NSString).appendingPathComponent("scan")
            let point = (self.directory as NSString).appendingPathComponent("point")
            do {
                self.scanned = try EntryLog(directory: scan, number: 0, after: 1)
                self.pointedInto = try EntryLog(directory: point, number: 0)
                _ = try self.pointedInto.append(ledgerID: 1, entryID: 0, bytes: ByteBuffer(repeating: 7, count: 40))
                try self.pointedInto.flush()
            } catch {
                fatalError("the storage fuzz harness cannot make its files in \(self.directory): \(error)")
            }
            self.scannedPath = EntryLog.path(scan, 1)
        }

        /// Replaces the contents of the scanned log's file 1, keeping its inode (the log
        /// may hold it open from an earlier read).
        func overwriteScanned(with contents: [UInt8]) {
            let fd = open(self.scannedPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { fatalError("cannot write \(self.scannedPath)") }
            defer { close(fd) }
            try? contents.withUnsafeBytes { raw in try writeAll(fd, raw, at: 0, path: self.scannedPath) }
        }
    }

    private static let files = Files()

    public static func run(_ bytes: UnsafeRawBufferPointer) {
        guard let mode = bytes.first else { return }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[1...])
        switch mode % 4 {
        case 0, 1:
            Self.replayJournal(rest, isNewest: mode % 4 == 0)
        case 2:
            Self.readEntryLog(Array(rest))
        default:
            Self.readIndexValues(Array(rest))
        }
    }

    /// The bytes as journal file 1 (the newest, or one a newer file follows), replayed from
    /// its start and from its middle.
    private static func replayJournal(_ contents: UnsafeRawBufferPointer, isNewest: Bool) {
        for start in [0, contents.count / 2] {
            var summary = Journal.ReplaySummary(records: 0, end: .start, tornBytes: 0)
            _ = try? Journal.replayContents(contents, path: "journal 1", id: 1, isNewest: isNewest, from: start, into: &summary) { record, _ in
                if case .entry(_, _, let bytes) = record { _ = bytes.readableBytes }
            }
        }
    }

    /// The bytes as entry log 1: scanned, and every record the scan finds read back.
    private static func readEntryLog(_ contents: [UInt8]) {
        let files = Self.files
        files.overwriteScanned(with: contents)
        var locations: [(UInt64, UInt64, EntryLocation)] = []
        try? files.scanned.scan(1) { ledgerID, entryID, location in
            if locations.count < 1000 { locations.append((ledgerID, entryID, location)) }
        }
        for (ledgerID, entryID, location) in locations {
            _ = try? files.scanned.read(location, ledgerID: ledgerID, entryID: entryID)
        }
    }

    /// Index values decoded, and entry 1:0 read where the location value points.
    private static func readIndexValues(_ values: [UInt8]) {
        let location = Array(values.prefix(20))
        if let decoded = try? EntryIndex.location(decoding: location, of: 1, 0) {
            _ = try? Self.files.pointedInto.read(decoded, ledgerID: 1, entryID: 0)
        }
        let checkpoint = Array(values.dropFirst(20).prefix(16))
        if let position = try? EntryIndex.checkpoint(decoding: checkpoint) {
            _ = try? Journal.replay(directory: Self.files.directory, from: position) { _, _ in }
        }
        _ = try? EntryIndex.state(decoding: Array(values.dropFirst(36)), of: 1)
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
        let directory = (Self.files.directory as NSString).appendingPathComponent("seeds")
        defer { try? FileManager.default.removeItem(atPath: directory) }
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
