import Glibc

/// Writes all of `bytes` at `offset`, retrying short and interrupted writes.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws(StorageError) {
    var written = 0
    while written < bytes.count {
        let result = pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset + written))
        if result < 0 {
            if errno == EINTR { continue }
            throw StorageError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        written += result
    }
}

/// Starts writing `count` bytes of `fd` from `offset` back to the disk, without waiting:
/// a later sync of the file then has little left to do, and the disk gets a steady stream
/// rather than a burst. Best effort: a failure only leaves the work to the sync.
func startWriteback(_ fd: Int32, offset: Int, count: Int) {
    _ = syncFileRange(fd, off_t(offset), off_t(count), syncFileRangeWrite)
}

/// Linux's `sync_file_range` (the Glibc module leaves it out) and its flag that starts
/// writeback of the range without waiting for it.
@_silgen_name("sync_file_range") private func syncFileRange(_ fd: Int32, _ offset: off_t, _ count: off_t, _ flags: UInt32) -> Int32
private let syncFileRangeWrite: UInt32 = 2
