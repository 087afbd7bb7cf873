import ClusterTesting
import Foundation

/// Damages the tail of a stopped bookie's newest journal file the way a crash in the
/// middle of a write can: only past the last complete batch, so nothing the bookie
/// acknowledged is touched. The journal's layout: a 16-byte file header, then batches
/// `[u32 length][u32 crc32c][length bytes]`, then zeros (preallocated space).
enum JournalTail {
    enum Damage: Sendable {
        /// A batch header promising 4 KiB, followed by only 100 bytes.
        case torn
        /// A copy of the last batch with one bit flipped (its checksum then fails).
        case flipped
    }

    /// Damages the newest journal file in `directory`; says what it did.
    static func damage(_ damage: Damage, directory: String, random: inout SplitMix64) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("journal-") && $0.hasSuffix(".log") }.sorted()
        guard let newest = names.last else { return "no journal file in \(directory)" }
        let path = (directory as NSString).appendingPathComponent(newest)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func word(_ offset: Int) -> UInt32 { bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        var offset = 16
        var last: Range<Int>?
        while offset + 8 <= bytes.count {
            let length = Int(word(offset))
            guard length != 0 || word(offset + 4) != 0, offset + 8 + length <= bytes.count else { break }
            last = offset..<(offset + 8 + length)
            offset += 8 + length
        }
        var tail: [UInt8]
        var what: String
        switch (damage, last) {
        case (.flipped, let last?) where last.count > 8:
            tail = Array(bytes[last])
            let bit = 64 + Int(random.next(below: UInt64((tail.count - 8) * 8)))
            tail[bit / 8] ^= UInt8(1 << (bit % 8))
            what = "appended a copy of the last batch (\(tail.count) bytes) with bit \(bit) flipped"
        default:
            tail = [0, 0, 0x10, 0] + (0..<104).map { _ in UInt8(1 + random.next(below: 255)) }
            what = "appended a batch header for 4096 bytes and only 100 of them"
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(tail))
        try handle.synchronize()
        return "\(newest) at offset \(offset): \(what)"
    }
}
