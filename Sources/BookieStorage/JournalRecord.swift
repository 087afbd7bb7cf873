public import NIOCore
import Codec

/// What the journal makes durable before a bookie acknowledges it.
///
/// On disk each record is `[u32 length][u32 crc32c][u8 kind][body]`, where `length`
/// counts the kind byte and the body and the CRC32C covers them both, so replay can tell
/// a torn or damaged record from a good one.
public enum JournalRecord: Hashable, Sendable {
    /// An encoded ledger entry, exactly as it arrived.
    case entry(ledgerID: UInt64, entryID: UInt64, bytes: ByteBuffer)
    /// The ledger is fenced: no normal add may be accepted any more.
    case fence(ledgerID: UInt64)
    /// The key the ledger's writer proved it holds; later fencing must present it.
    case ledgerKey(ledgerID: UInt64, key: [UInt8])
    /// An explicit last-add-confirmed for the ledger.
    case lastAddConfirmed(ledgerID: UInt64, lac: Int64)

    /// Bytes of a record's frame before its kind byte.
    static let frameHeaderSize = 8
    /// The largest record body replay accepts; anything longer is damage.
    static let maximumBodySize = 64 << 20

    private enum Kind: UInt8 {
        case entry = 1, fence = 2, ledgerKey = 3, lastAddConfirmed = 4
    }

    /// The record's size on disk.
    var encodedSize: Int {
        let body: Int
        switch self {
        case .entry(_, _, let bytes): body = 16 + bytes.readableBytes
        case .fence: body = 8
        case .ledgerKey(_, let key): body = 8 + 2 + key.count
        case .lastAddConfirmed: body = 16
        }
        return Self.frameHeaderSize + 1 + body
    }

    /// Appends the framed record to `buffer`.
    func write(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeMultipleIntegers(UInt32(0), UInt32(0))
        switch self {
        case .entry(let ledgerID, let entryID, let bytes):
            buffer.writeMultipleIntegers(Kind.entry.rawValue, ledgerID, entryID)
            buffer.writeImmutableBuffer(bytes)
        case .fence(let ledgerID):
            buffer.writeMultipleIntegers(Kind.fence.rawValue, ledgerID)
        case .ledgerKey(let ledgerID, let key):
            buffer.writeMultipleIntegers(Kind.ledgerKey.rawValue, ledgerID, UInt16(key.count))
            buffer.writeBytes(key)
        case .lastAddConfirmed(let ledgerID, let lac):
            buffer.writeMultipleIntegers(Kind.lastAddConfirmed.rawValue, ledgerID, UInt64(bitPattern: lac))
        }
        let length = buffer.writerIndex - start - Self.frameHeaderSize
        let checksum = buffer.withUnsafeReadableBytes { raw in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[(start - buffer.readerIndex + Self.frameHeaderSize)...]))
        }
        buffer.setMultipleIntegers(UInt32(length), checksum, at: start)
    }

    /// Parses a record body (kind byte onward) whose checksum already matched.
    init?(body: ByteBuffer) {
        var body = body
        guard let raw = body.readInteger(as: UInt8.self), let kind = Kind(rawValue: raw) else { return nil }
        switch kind {
        case .entry:
            guard let (ledgerID, entryID) = body.readMultipleIntegers(as: (UInt64, UInt64).self) else { return nil }
            self = .entry(ledgerID: ledgerID, entryID: entryID, bytes: body)
            return
        case .fence:
            guard let ledgerID = body.readInteger(as: UInt64.self) else { return nil }
            self = .fence(ledgerID: ledgerID)
        case .ledgerKey:
            guard let (ledgerID, count) = body.readMultipleIntegers(as: (UInt64, UInt16).self),
                let key = body.readBytes(length: Int(count))
            else { return nil }
            self = .ledgerKey(ledgerID: ledgerID, key: key)
        case .lastAddConfirmed:
            guard let (ledgerID, lac) = body.readMultipleIntegers(as: (UInt64, UInt64).self) else { return nil }
            self = .lastAddConfirmed(ledgerID: ledgerID, lac: Int64(bitPattern: lac))
        }
        guard body.readableBytes == 0 else { return nil }
    }
}

/// A place in the journal: a file and a byte offset in it. Positions order as the journal
/// was written.
public struct JournalPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var fileID: UInt64
    public var offset: UInt64

    public init(fileID: UInt64, offset: UInt64) {
        self.fileID = fileID
        self.offset = offset
    }

    public static let start = JournalPosition(fileID: 0, offset: 0)

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.fileID, lhs.offset) < (rhs.fileID, rhs.offset)
    }

    public var description: String { "\(self.fileID):\(self.offset)" }
}
