import Codec
import Foundation
import NIOCore

extension Journal {
    /// What a replay read.
    public struct ReplaySummary: Hashable, Sendable {
        /// Records visited.
        public var records: Int
        /// The position after the last good record.
        public var end: JournalPosition
        /// Bytes of a torn final batch that were cut (0 when the journal ended cleanly).
        public var tornBytes: Int
        /// Where the torn batch starts, when there is one.
        public var tornAt: JournalPosition?
    }

    /// Reads every record after `start` (a position some earlier append returned), in
    /// order, and calls `visit` with each and the position just past it. Positions fall
    /// between records, possibly inside a group-commit batch, so the file holding `start`
    /// is read from its beginning and records up to `start` are checked but not visited.
    ///
    /// A damaged batch at the very end of the newest file, followed only by zeros, is the
    /// torn tail of a crash: it was never acknowledged, and replay stops there. Damage
    /// anywhere else — in an older file, or followed by good data — is refused with a
    /// `corrupt` error naming the file and offset: such bytes are never served as data.
    public static func replay(
        directory: String,
        from start: JournalPosition = .start,
        visit: (JournalRecord, JournalPosition) throws -> Void
    ) throws -> ReplaySummary {
        let ids = try JournalFile.ids(in: directory).filter { $0 >= start.fileID }
        var summary = ReplaySummary(records: 0, end: start, tornBytes: 0)
        for (index, id) in ids.enumerated() {
            let first = id == start.fileID ? Int(clamping: start.offset) : 0
            let path = JournalFile.path(directory, id)
            try MappedFile.withContents(of: path) { bytes in
                try Self.replayContents(bytes, path: path, id: id, isNewest: index == ids.count - 1, from: first, into: &summary, visit: visit)
            }
        }
        return summary
    }

    /// Replays the contents of journal file `id` (read from `path`), as ``replay(directory:from:visit:)``
    /// does each file.
    static func replayContents(
        _ bytes: UnsafeRawBufferPointer,
        path: String,
        id: UInt64,
        isNewest: Bool,
        from startOffset: Int,
        into summary: inout ReplaySummary,
        visit: (JournalRecord, JournalPosition) throws -> Void
    ) throws {
        func corrupt(_ offset: Int, _ what: String) -> StorageError {
            StorageError(.corrupt, "\(path) is damaged at offset \(offset): \(what); refusing to replay past it")
        }
        guard bytes.count >= JournalFile.headerSize else {
            // A crash while the file was being created: nothing in it was acknowledged.
            if isNewest { return }
            throw corrupt(0, "the file is shorter than its header")
        }
        let header = Array(bytes[0..<JournalFile.headerSize])
        guard Array(header[0..<8]) == JournalFile.magic, header[8...].reduce(0, { $0 << 8 | UInt64($1) }) == id else {
            if isNewest && header.allSatisfy({ $0 == 0 }) { return }
            throw corrupt(0, "the header is not that of journal file \(id)")
        }
        var offset = JournalFile.headerSize
        while offset + JournalFile.batchHeaderSize <= bytes.count {
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian)
            let checksum = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).bigEndian
            if length == 0 && checksum == 0 { return }  // The preallocated, never-written rest.
            let dataStart = offset + JournalFile.batchHeaderSize
            let plausible = length <= bytes.count - dataStart
            if plausible, CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[dataStart..<(dataStart + length)])) == checksum {
                try Self.replayBatch(
                    bytes, dataStart..<(dataStart + length), fileID: id, after: startOffset,
                    into: &summary, corrupt: corrupt, visit: visit
                )
                offset = dataStart + length
                summary.end = max(summary.end, JournalPosition(fileID: id, offset: UInt64(offset)))
                continue
            }
            // A bad batch: torn only if it is the last thing ever written.
            let after = plausible ? dataStart + length : dataStart
            guard isNewest, ZeroScan.lastNonZero(bytes, in: after..<bytes.count) == nil else {
                throw corrupt(offset, "a batch fails its checksum and data follows it")
            }
            summary.tornBytes = (ZeroScan.lastNonZero(bytes, in: offset..<after) ?? offset) + 1 - offset
            summary.tornAt = JournalPosition(fileID: id, offset: UInt64(offset))
            return
        }
    }

    private static func replayBatch(
        _ bytes: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        fileID: UInt64,
        after skipped: Int,
        into summary: inout ReplaySummary,
        corrupt: (Int, String) -> StorageError,
        visit: (JournalRecord, JournalPosition) throws -> Void
    ) throws {
        var offset = range.lowerBound
        while offset < range.upperBound {
            guard offset + JournalRecord.frameHeaderSize <= range.upperBound else { throw corrupt(offset, "a record header is cut") }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian)
            let checksum = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).bigEndian
            let bodyStart = offset + JournalRecord.frameHeaderSize
            guard length >= 1, length <= range.upperBound - bodyStart else { throw corrupt(offset, "a record length of \(length) is impossible") }
            let body = UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)])
            guard CRC32C.checksum(body) == checksum else { throw corrupt(offset, "a record fails its checksum") }
            guard let record = JournalRecord(body: ByteBuffer(bytes: body)) else { throw corrupt(offset, "a record is malformed") }
            offset = bodyStart + length
            guard offset > skipped else { continue }
            summary.records += 1
            try visit(record, JournalPosition(fileID: fileID, offset: UInt64(offset)))
        }
    }
}

/// A file mapped read-only into memory for the duration of a closure.
enum MappedFile {
    static func withContents<R>(of path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalFile.error("open \(path)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw JournalFile.error("stat \(path)") }
        let size = Int(info.st_size)
        guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw JournalFile.error("map \(path)")
        }
        defer { munmap(base, size) }
        return try body(UnsafeRawBufferPointer(start: base, count: size))
    }
}

/// Finds data in mostly-zero regions (the preallocated rest of a journal file) a page at a
/// time, with `memcmp` against a zero page.
enum ZeroScan {
    private static let page = 4096
    private static let zeros = [UInt8](repeating: 0, count: page)

    /// The offset of the last nonzero byte of `bytes[range]`, or nil when it is all zeros.
    static func lastNonZero(_ bytes: UnsafeRawBufferPointer, in range: Range<Int>) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var end = range.upperBound
        while end > range.lowerBound {
            let start = max(range.lowerBound, end - self.page)
            if self.zeros.withUnsafeBytes({ memcmp(base + start, $0.baseAddress!, end - start) }) != 0 {
                for index in stride(from: end - 1, through: start, by: -1) where bytes[index] != 0 {
                    return index
                }
            }
            end = start
        }
        return nil
    }
}
