import Foundation

/// Naming, creation and low-level I/O of journal files.
///
/// A file starts with a 16-byte header, `"MGJRNL01"` and its u64 id, followed by batches:
/// `[u32 length][u32 crc32c][records]`, one per group commit, the CRC32C covering the
/// records. The rest of the file is preallocated zeros; a zero length ends the data.
enum JournalFile {
    static let magic = Array("MGJRNL01".utf8)
    static let headerSize = 16
    static let batchHeaderSize = 8

    static func name(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return "journal-" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".log"
    }

    static func id(fromName name: String) -> UInt64? {
        guard name.hasPrefix("journal-"), name.hasSuffix(".log") else { return nil }
        return UInt64(name.dropFirst("journal-".count).dropLast(".log".count), radix: 16)
    }

    /// The ids of the journal files in `directory`, in order.
    static func ids(in directory: String) throws(StorageError) -> [UInt64] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).compactMap(Self.id(fromName:)).sorted()
        } catch {
            throw StorageError(.io, "cannot list the journal directory \(directory): \(error)")
        }
    }

    static func path(_ directory: String, _ id: UInt64) -> String {
        (directory as NSString).appendingPathComponent(Self.name(id))
    }

    /// Creates file `id` with its header, preallocates `size` bytes, and makes its
    /// directory entry durable. Returns the open descriptor.
    static func create(_ directory: String, id: UInt64, preallocate size: Int) throws(StorageError) -> Int32 {
        let path = Self.path(directory, id)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error("create \(path)") }
        let header = Self.header(id)
        do throws(StorageError) {
            try Self.preallocate(fd, from: 0, length: max(size, Self.headerSize), path: path)
            try header.withUnsafeBytes { raw in Result { () throws(StorageError) in try Self.write(fd, raw, at: 0, path: path) } }.get()
            guard fdatasync(fd) == 0 else { throw Self.error("sync \(path)") }
            try Self.syncDirectory(directory)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The header of file `id`.
    static func header(_ id: UInt64) -> [UInt8] {
        var header = Self.magic
        withUnsafeBytes(of: id.bigEndian) { header.append(contentsOf: $0) }
        return header
    }

    static func preallocate(_ fd: Int32, from offset: Int, length: Int, path: String) throws(StorageError) {
        let status = posix_fallocate(fd, off_t(offset), off_t(length))
        guard status == 0 else {
            throw StorageError(.io, "cannot preallocate \(length) bytes in \(path): \(String(cString: strerror(status)))")
        }
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(StorageError) {
        var written = 0
        let total = bytes.count
        while written < total {
            let result = pwrite(fd, bytes.baseAddress! + written, total - written, off_t(offset + written))
            if result < 0 {
                if errno == EINTR { continue }
                throw Self.error("write \(path)")
            }
            written += result
        }
    }

    static func syncDirectory(_ directory: String) throws(StorageError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(directory)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Self.error("sync \(directory)") }
    }

    static func error(_ what: String) -> StorageError {
        StorageError(.io, "cannot \(what): \(String(cString: strerror(errno)))")
    }
}

/// Writes a journal file's batches with `O_DIRECT`: from an aligned buffer straight to
/// the device, without copying them into the page cache first (which is the costliest
/// part of a buffered write, and then has to be written back anyway at the sync).
///
/// Direct writes must start and end on block boundaries. The batches are not aligned,
/// so each write starts at the boundary before the end of the data and carries again the
/// bytes already there (the same bytes: a write torn in them leaves them as they were),
/// then the batch, then zeros to the next boundary, where the next batch overwrites
/// them. The file's layout is the same as with buffered writes.
final class JournalDirectWriter {
    static let alignment = 4096

    let fd: Int32
    /// The bytes from the last block boundary to the end of the data.
    private var tail: [UInt8]
    private var end: Int
    private var staging: UnsafeMutableRawBufferPointer

    /// Opens `path` for direct writes, its data so far being `written` (the header); nil
    /// when the file system does not take direct I/O.
    init?(path: String, written: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | Self.directFlag)
        guard fd >= 0 else { return nil }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.alignment, 1 << 20) == 0, let raw else {
            close(fd)
            return nil
        }
        self.fd = fd
        self.tail = written
        self.end = written.count
        self.staging = UnsafeMutableRawBufferPointer(start: raw, count: 1 << 20)
        // Some file systems open with O_DIRECT but refuse the writes: try one.
        do {
            self.end = 0
            self.tail = []
            try written.withUnsafeBytes { try self.append($0, path: path) }
        } catch {
            return nil
        }
    }

    deinit {
        close(self.fd)
        self.staging.deallocate()
    }

    /// The end of the file a write of `count` more bytes reaches, padding included.
    func paddedEnd(adding count: Int) -> Int {
        Self.roundUp(self.end + count)
    }

    /// Writes `bytes` at the end of the data.
    func append(_ bytes: UnsafeRawBufferPointer, path: String) throws(StorageError) {
        let start = self.end - self.tail.count
        let length = Self.roundUp(self.tail.count + bytes.count)
        if length > self.staging.count {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, Self.alignment, length) == 0, let raw else {
                throw StorageError(.io, "cannot allocate \(length) aligned bytes to write \(path)")
            }
            self.staging.deallocate()
            self.staging = UnsafeMutableRawBufferPointer(start: raw, count: length)
        }
        self.tail.withUnsafeBytes { self.staging.copyMemory(from: $0) }
        UnsafeMutableRawBufferPointer(rebasing: self.staging[self.tail.count...]).copyMemory(from: bytes)
        let used = self.tail.count + bytes.count
        UnsafeMutableRawBufferPointer(rebasing: self.staging[used..<length]).initializeMemory(as: UInt8.self, repeating: 0)
        try JournalFile.write(self.fd, UnsafeRawBufferPointer(rebasing: self.staging[..<length]), at: start, path: path)
        self.end += bytes.count
        let kept = self.end % Self.alignment
        self.tail = Array(UnsafeRawBufferPointer(rebasing: self.staging[(used - kept)..<used]))
    }

    private static func roundUp(_ count: Int) -> Int {
        (count + Self.alignment - 1) / Self.alignment * Self.alignment
    }

    /// Linux's `O_DIRECT`, which the Glibc module leaves out; its value depends on the
    /// architecture.
    #if arch(arm64)
    private static let directFlag: Int32 = 0o200000
    #else
    private static let directFlag: Int32 = 0o40000
    #endif
}
