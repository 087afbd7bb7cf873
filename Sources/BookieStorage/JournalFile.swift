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
            do {
                try Self.preallocate(fd, from: 0, length: max(size, Self.headerSize), path: path)
            } catch where error.code == .noSpace && size > Self.headerSize {
                // No room for a whole step: start small, and grow as writes need it.
                try Self.preallocate(fd, from: 0, length: Self.headerSize, path: path)
            }
            try header.withUnsafeBytes { raw in Result { () throws(StorageError) in try writeAll(fd, raw, at: 0, path: path) } }.get()
            guard fdatasync(fd) == 0 else { throw Self.error("sync \(path)") }
            try Self.syncDirectory(directory)
        } catch {
            close(fd)
            // Not left behind half made: once newer files exist, replay would refuse it.
            unlink(path)
            throw error
        }
        return fd
    }

    /// Opens file `id` for writing if it holds its header and no batch (the rest zeros
    /// where the first batch would start); returns its descriptor and size, or nil when it
    /// is in use or not a journal file.
    static func openIfUnused(_ directory: String, id: UInt64) throws(StorageError) -> (Int32, Int)? {
        let path = Self.path(directory, id)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(path)") }
        var start = [UInt8](repeating: 0xFF, count: Self.headerSize + Self.batchHeaderSize)
        let read = start.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        var info = stat()
        guard read == start.count, fstat(fd, &info) == 0, Array(start[..<Self.headerSize]) == Self.header(id),
            start[Self.headerSize...].allSatisfy({ $0 == 0 })
        else {
            close(fd)
            return nil
        }
        return (fd, Int(info.st_size))
    }

    /// Overwrites `length` bytes at `offset` of file `id` with zeros and syncs it: cuts a
    /// torn batch for good, so that it is not found again in a file that is no longer the
    /// newest.
    static func zero(_ directory: String, id: UInt64, offset: Int, length: Int) throws(StorageError) {
        let path = Self.path(directory, id)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(path)") }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: length)
        try zeros.withUnsafeBytes { raw in Result { () throws(StorageError) in try writeAll(fd, raw, at: offset, path: path) } }.get()
        guard fdatasync(fd) == 0 else { throw Self.error("sync \(path)") }
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
            let code: StorageError.Code = status == ENOSPC || status == EDQUOT ? .noSpace : .io
            throw StorageError(code, "cannot preallocate \(length) bytes in \(path): \(String(cString: strerror(status)))")
        }
    }

    static func syncDirectory(_ directory: String) throws(StorageError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.error("open \(directory)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Self.error("sync \(directory)") }
    }

    static func error(_ what: String) -> StorageError {
        let number = errno
        return StorageError(number == ENOSPC || number == EDQUOT ? .noSpace : .io, "cannot \(what): \(String(cString: strerror(number)))")
    }
}
