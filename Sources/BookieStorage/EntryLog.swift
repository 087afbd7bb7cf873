import Codec
import Foundation
import NIOCore

/// Append-only entry log files, where flushed entries live; the index points into them.
///
/// A file is `entrylog-<id>.log`: a 16-byte header (`"MGENTLOG"`, u64 id) and records
/// `[u32 length][u32 crc32c][u64 ledger][u64 entry][entry bytes]`, the CRC32C covering
/// the ids and bytes. Appends are buffered and reach the disk on ``flush()``, which syncs;
/// reads check the CRC and the ids, so damaged or misplaced bytes are never served.
/// Writes go past the page cache (``DirectFileWriter``) where the file system allows; a
/// file may then end in up to a block of zeros after its last record.
///
/// One thread appends and flushes; reads may come from any thread.
final class EntryLog: @unchecked Sendable {
    static let headerSize = 16
    static let recordHeaderSize = 4 + 4 + 8 + 8
    /// The longest record a log holds (an entry is at most a journal record's body).
    static let maximumRecordSize = recordHeaderSize + JournalRecord.maximumBodySize
    private static let magic = Array("MGENTLOG".utf8)

    private let directory: String
    private let maxFileSize: Int
    private var fileID: UInt64
    private var fd: Int32
    private var offset: Int
    /// Writes the current file with direct I/O; nil: buffered writes.
    private var direct: DirectFileWriter?
    private var buffer = ByteBuffer()
    /// Whether bytes were written since the last sync.
    private var unsynced = false
    static let writeChunk = 4 << 20
    /// Open descriptors of files being read, by id. Guarded by `readers`' lock.
    private let readers = NSLock()
    private var readDescriptors: [UInt64: Int32] = [:]

    /// Opens the log in `directory`, the ledger directory numbered `number`, starting a new
    /// file after any existing ones and after `lastUsedID` (the highest id the index may
    /// point to, whose file may be gone if the directory was emptied).
    ///
    /// A log id carries its directory's number in its top byte, so ids are unique across
    /// directories and a location names the directory it is in.
    init(directory: String, number: UInt8 = 0, after lastUsedID: UInt64 = 0, maxFileSize: Int = 1 << 30) throws(StorageError) {
        self.directory = directory
        self.maxFileSize = maxFileSize
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(.io, "cannot create the entry log directory \(directory): \(error)")
        }
        let first = UInt64(number) << 56
        let existing = try Self.ids(in: directory).last { Self.directoryNumber(of: $0) == Int(number) } ?? first
        if existing > first, existing >= lastUsedID, let fd = try Self.openIfEmpty(directory, id: existing) {
            // A file with no record yet (a start that wrote nothing): written again rather
            // than leaving one more empty file per start.
            self.fileID = existing
            self.fd = fd
        } else {
            self.fileID = max(existing, lastUsedID, first) + 1
            self.fd = try Self.create(directory, id: self.fileID)
        }
        self.offset = Self.headerSize
        self.direct = DirectFileWriter(path: Self.path(directory, self.fileID), written: Self.header(self.fileID))
    }

    /// The number of the ledger directory a log id belongs to.
    static func directoryNumber(of logID: UInt64) -> Int {
        Int(logID >> 56)
    }

    /// The file being appended to; every other file is complete.
    var currentID: UInt64 { self.fileID }

    /// The descriptor of the file being appended to.
    var descriptor: Int32 { self.fd }

    deinit {
        close(self.fd)
        for fd in self.readDescriptors.values { close(fd) }
    }

    /// Buffers an entry and returns where it will be once flushed.
    func append(ledgerID: UInt64, entryID: UInt64, bytes: ByteBuffer) throws(StorageError) -> EntryLocation {
        let size = Self.recordHeaderSize + bytes.readableBytes
        if self.offset + self.buffer.readableBytes + size > self.maxFileSize, self.offset + self.buffer.readableBytes > Self.headerSize {
            try self.flush()
            try self.roll()
        }
        let start = self.buffer.writerIndex
        self.buffer.writeMultipleIntegers(UInt32(size - 8), UInt32(0), ledgerID, entryID)
        self.buffer.writeImmutableBuffer(bytes)
        let checksum = self.buffer.withUnsafeReadableBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start - self.buffer.readerIndex + 8)...]))
        }
        self.buffer.setInteger(checksum, at: start + 4)
        let location = EntryLocation(
            logID: self.fileID,
            offset: UInt64(self.offset + start - self.buffer.readerIndex),
            length: UInt32(size)
        )
        if self.buffer.readableBytes >= Self.writeChunk { try self.writeBuffered() }
        return location
    }

    /// Writes buffered appends and syncs the file.
    func flush() throws(StorageError) {
        try self.writeBuffered()
        guard self.unsynced else { return }
        guard fdatasync(self.fd) == 0 else { throw Self.error("sync \(Self.path(self.directory, self.fileID))") }
        self.unsynced = false
    }

    /// Writes the buffer to the file without syncing. Appends write whenever the buffer
    /// reaches ``writeChunk``, so it stays small and warm in the cache.
    private func writeBuffered() throws(StorageError) {
        guard self.buffer.readableBytes > 0 else { return }
        let total = self.buffer.readableBytes
        let path = Self.path(self.directory, self.fileID)
        try self.buffer.withUnsafeReadableBytes { raw in
            Result { () throws(StorageError) in
                if let direct = self.direct {
                    try direct.append(raw, path: path)
                } else {
                    try writeAll(self.fd, raw, at: self.offset, path: path)
                    // Start writing it back now: the disk gets a steady stream instead of
                    // a second's worth at the flush's sync, which a journal sync would
                    // queue behind.
                    startWriteback(self.fd, offset: self.offset, count: total)
                }
            }
        }.get()
        self.offset += total
        self.unsynced = true
        self.buffer.clear()
    }

    /// Reads the entry at `location`, checking that it is `ledgerID:entryID` and intact.
    func read(_ location: EntryLocation, ledgerID: UInt64, entryID: UInt64) throws(StorageError) -> ByteBuffer {
        let length = Int(location.length)
        let path = Self.path(self.directory, location.logID)
        guard length <= Self.maximumRecordSize, let offset = off_t(exactly: location.offset) else {
            throw StorageError(.corrupt, "\(path) at \(location.offset): the record of \(ledgerID):\(entryID) is longer than any record or past any file")
        }
        let fd = try self.readDescriptor(location.logID)
        var record = ByteBuffer()
        let read = record.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            max(0, pread(fd, raw.baseAddress!, length, offset))
        }
        guard read == length, length >= Self.recordHeaderSize,
            let (size, checksum, ledger, entry) = record.readMultipleIntegers(as: (UInt32, UInt32, UInt64, UInt64).self),
            Int(size) == length - 8
        else {
            throw StorageError(.corrupt, "\(path) at \(location.offset): the record of \(ledgerID):\(entryID) is cut or malformed")
        }
        let computed = CRC32C.checksum(record, continuing: CRC32C.checksum(Self.ids(ledger, entry)))
        guard computed == checksum, ledger == ledgerID, entry == entryID else {
            throw StorageError(.corrupt, "\(path) at \(location.offset): the record of \(ledgerID):\(entryID) fails its checksum")
        }
        return record
    }

    /// The size of a log file in bytes, or nil when it does not exist.
    func size(of logID: UInt64) -> Int? {
        var stats = stat()
        guard stat(Self.path(self.directory, logID), &stats) == 0 else { return nil }
        return Int(stats.st_size)
    }

    /// Calls `visit` with the ids and location of every record of a complete log file, in
    /// file order, stopping at the first record that is cut short (or at the zeros after
    /// the last one).
    func scan(_ logID: UInt64, _ visit: (_ ledgerID: UInt64, _ entryID: UInt64, EntryLocation) throws -> Void) throws {
        let path = Self.path(self.directory, logID)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(path)") }
        defer { close(fd) }
        var stats = stat()
        guard fstat(fd, &stats) == 0 else { throw Self.error("stat \(path)") }
        let fileSize = Int(stats.st_size)
        var offset = Self.headerSize  // The file offset of `window`'s first readable byte.
        var window = ByteBuffer()
        func fill(_ needed: Int) {
            window.discardReadBytes()
            while window.readableBytes < needed, offset + window.readableBytes < fileSize {
                let position = offset + window.readableBytes
                let read = window.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { raw in
                    max(0, pread(fd, raw.baseAddress!, raw.count, off_t(position)))
                }
                if read == 0 { break }
            }
        }
        while true {
            fill(Self.recordHeaderSize)
            guard let (size, _, ledgerID, entryID) = window.getMultipleIntegers(at: window.readerIndex, as: (UInt32, UInt32, UInt64, UInt64).self)
            else { return }
            let length = Int(size) + 8
            guard length >= Self.recordHeaderSize, length <= Self.maximumRecordSize, offset + length <= fileSize else { return }
            try visit(ledgerID, entryID, EntryLocation(logID: logID, offset: UInt64(offset), length: UInt32(length)))
            if window.readableBytes >= length {
                window.moveReaderIndex(forwardBy: length)
            } else {
                window.clear()  // A record larger than the window: skip the rest of it.
            }
            offset += length
        }
    }

    /// The complete files of this directory with ids below `current`, in order.
    func completeIDs(before current: UInt64) throws(StorageError) -> [UInt64] {
        let number = Self.directoryNumber(of: current)
        return try Self.ids(in: self.directory).filter { $0 < current && Self.directoryNumber(of: $0) == number }
    }

    /// Deletes a complete log file that nothing points into any more.
    func remove(_ logID: UInt64) throws(StorageError) {
        precondition(logID != self.fileID, "the current entry log cannot be removed")
        self.readers.lock()
        if let fd = self.readDescriptors.removeValue(forKey: logID) { close(fd) }
        self.readers.unlock()
        let path = Self.path(self.directory, logID)
        guard unlink(path) == 0 || errno == ENOENT else { throw Self.error("delete \(path)") }
    }

    /// The ids of entry log files in the directory, in order.
    static func ids(in directory: String) throws(StorageError) -> [UInt64] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).compactMap { name in
                guard name.hasPrefix("entrylog-"), name.hasSuffix(".log") else { return nil }
                return UInt64(name.dropFirst("entrylog-".count).dropLast(".log".count), radix: 16)
            }.sorted()
        } catch {
            throw StorageError(.io, "cannot list \(directory): \(error)")
        }
    }

    static func path(_ directory: String, _ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return (directory as NSString).appendingPathComponent("entrylog-" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".log")
    }

    private static func ids(_ ledger: UInt64, _ entry: UInt64) -> [UInt8] {
        var bytes = Bytes()
        bytes.append(ledger)
        bytes.append(entry)
        return bytes.bytes
    }

    /// Starts the next file. The current one stays open and current until the next one
    /// exists, so a failed create leaves nothing closed.
    private func roll() throws(StorageError) {
        let next = self.fileID + 1
        let fd = try Self.create(self.directory, id: next)
        close(self.fd)
        self.fd = fd
        self.fileID = next
        self.offset = Self.headerSize
        self.direct = DirectFileWriter(path: Self.path(self.directory, self.fileID), written: Self.header(self.fileID))
    }

    private func readDescriptor(_ id: UInt64) throws(StorageError) -> Int32 {
        self.readers.lock()
        defer { self.readers.unlock() }
        if let fd = self.readDescriptors[id] { return fd }
        let path = Self.path(self.directory, id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(path)") }
        self.readDescriptors[id] = fd
        return fd
    }

    /// Opens log `id` for writing if it holds its header and no record; nil otherwise.
    private static func openIfEmpty(_ directory: String, id: UInt64) throws(StorageError) -> Int32? {
        let path = Self.path(directory, id)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(path)") }
        var start = [UInt8](repeating: 0xFF, count: Self.headerSize + Self.recordHeaderSize)
        let read = start.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        let headerOnly = read == Self.headerSize || (read == start.count && start[Self.headerSize...].allSatisfy { $0 == 0 })
        guard read >= Self.headerSize, Array(start[..<Self.headerSize]) == Self.header(id), headerOnly else {
            close(fd)
            return nil
        }
        return fd
    }

    private static func create(_ directory: String, id: UInt64) throws(StorageError) -> Int32 {
        let path = Self.path(directory, id)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error("create \(path)") }
        do throws(StorageError) {
            try Self.header(id).withUnsafeBytes { raw in Result { () throws(StorageError) in try writeAll(fd, raw, at: 0, path: path) } }.get()
            guard fdatasync(fd) == 0 else { throw Self.error("sync \(path)") }
        } catch {
            close(fd)
            throw error
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            defer { close(directoryFD) }
            guard fsync(directoryFD) == 0 else { throw Self.error("sync \(directory)") }
        }
        return fd
    }

    /// The header of log `id`.
    private static func header(_ id: UInt64) -> [UInt8] {
        var idBytes = Bytes()
        idBytes.append(id)
        return Self.magic + idBytes.bytes
    }

    private static func error(_ what: String) -> StorageError {
        StorageError(.io, "cannot \(what): \(String(cString: strerror(errno)))")
    }
}
