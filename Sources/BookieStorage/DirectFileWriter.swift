import Glibc

/// Appends to a file with `O_DIRECT`: from an aligned buffer straight to the device,
/// without copying into the page cache first (for a bookie's journal and entry logs the
/// costliest part of a buffered write, whose pages then have to be written back anyway).
///
/// Direct writes must start and end on block boundaries. Appends are not aligned, so
/// each write starts at the boundary before the end of the data and carries again the
/// bytes already there (the same bytes: a write torn in them leaves them as they were),
/// then the new bytes, then zeros to the next boundary, which the next append overwrites.
/// The file holds what buffered appends would leave, plus those zeros at its end.
final class DirectFileWriter {
    static let alignment = 4096

    private let fd: Int32
    /// The bytes from the last block boundary to the end of the data.
    private var tail: [UInt8]
    private var end: Int
    private var staging: UnsafeMutableRawBufferPointer

    /// Opens `path` for direct writes, its data so far being `written` (a header), which
    /// it writes again; nil when the file system does not take direct I/O.
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

    /// Writes `bytes` at the end of the data. Does not sync.
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
        try writeAll(self.fd, UnsafeRawBufferPointer(rebasing: self.staging[..<length]), at: start, path: path)
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
