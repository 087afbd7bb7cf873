public import NIOCore
import Codec

/// One ledger entry as the ledger client writes it and every bookie stores it:
///
///     [u64 ledgerID][u64 entryID][i64 lastAddConfirmed][u64 ledgerLength][u32 crc32c][payload]
///
/// The CRC32C covers the four header fields and the payload, so a bookie can refuse a
/// corrupt entry and a reader can detect one, without knowing anything else about it.
/// `ledgerLength` is the ledger's total payload length up to and including this entry.
public struct LedgerEntry: Hashable, Sendable {
    /// Bytes before the payload.
    public static let headerSize = 8 + 8 + 8 + 8 + 4

    public var ledgerID: UInt64
    public var entryID: UInt64
    /// The writer's last add confirmed when it sent this entry (-1 before the first).
    public var lastAddConfirmed: Int64
    public var ledgerLength: UInt64
    public var payload: ByteBuffer

    public init(ledgerID: UInt64, entryID: UInt64, lastAddConfirmed: Int64, ledgerLength: UInt64, payload: ByteBuffer) {
        self.ledgerID = ledgerID
        self.entryID = entryID
        self.lastAddConfirmed = lastAddConfirmed
        self.ledgerLength = ledgerLength
        self.payload = payload
    }

    /// Writes the entry with its digest into `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        self.writeHeader(into: &buffer)
        buffer.writeImmutableBuffer(self.payload)
    }

    /// Writes the header alone (ids, LAC, length, digest), for a sender that passes the
    /// payload to the socket as a buffer of its own instead of copying it.
    public func writeHeader(into buffer: inout ByteBuffer) {
        let offset = buffer.writerIndex - buffer.readerIndex
        buffer.writeMultipleIntegers(self.ledgerID, self.entryID, UInt64(bitPattern: self.lastAddConfirmed), self.ledgerLength)
        // Through a pointer, not a slice: a slice would share the buffer's storage, and the
        // write below would then copy all of it (a head buffer holds a whole batch).
        let fields = buffer.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + 32)])) }
        buffer.writeInteger(CRC32C.checksum(self.payload, continuing: fields))
    }

    /// The entry's digest: the CRC32C of its four header fields and its payload. A writer
    /// computes it once per entry and frames every replica's add with
    /// ``writeHeader(into:digest:)``.
    public var digest: UInt32 {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { fields in
            fields.storeBytes(of: self.ledgerID.bigEndian, toByteOffset: 0, as: UInt64.self)
            fields.storeBytes(of: self.entryID.bigEndian, toByteOffset: 8, as: UInt64.self)
            fields.storeBytes(of: UInt64(bitPattern: self.lastAddConfirmed).bigEndian, toByteOffset: 16, as: UInt64.self)
            fields.storeBytes(of: self.ledgerLength.bigEndian, toByteOffset: 24, as: UInt64.self)
            return CRC32C.checksum(self.payload, continuing: CRC32C.checksum(UnsafeRawBufferPointer(fields)))
        }
    }

    /// Writes the header with a digest computed before (``digest``), so an entry sent to
    /// several bookies is digested once.
    public func writeHeader(into buffer: inout ByteBuffer, digest: UInt32) {
        buffer.writeMultipleIntegers(self.ledgerID, self.entryID, UInt64(bitPattern: self.lastAddConfirmed), self.ledgerLength, digest)
    }

    /// The entry's encoded size.
    public var encodedSize: Int { Self.headerSize + self.payload.readableBytes }

    /// The LAC field of an encoded entry, read without verifying the digest: for bytes
    /// already verified (on add) or covered by another checksum (a journal record).
    public static func lastAddConfirmed(in bytes: ByteBuffer) -> Int64? {
        bytes.getInteger(at: bytes.readerIndex + 16, as: UInt64.self).map { Int64(bitPattern: $0) }
    }

    /// Decodes an entry occupying all of `bytes`, verifying its digest. The payload is a
    /// slice of `bytes`, not a copy.
    /// The ledger an encoded entry names (its first 8 bytes), without checking the rest;
    /// nil when it is shorter.
    public static func ledgerID(of bytes: ByteBuffer) -> UInt64? {
        bytes.getInteger(at: bytes.readerIndex, as: UInt64.self)
    }

    public init(decoding bytes: ByteBuffer) throws(BookieWireError) {
        guard bytes.readableBytes >= Self.headerSize,
            let (ledgerID, entryID, lac, length, digest) = bytes.getMultipleIntegers(
                at: bytes.readerIndex,
                as: (UInt64, UInt64, UInt64, UInt64, UInt32).self
            )
        else {
            throw BookieWireError(.malformedFrame, "an entry needs \(Self.headerSize) header bytes, got \(bytes.readableBytes)")
        }
        let computed = bytes.withUnsafeReadableBytes { raw in
            let fields = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<32]))
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[Self.headerSize...]), continuing: fields)
        }
        guard computed == digest else {
            throw BookieWireError(
                .corruptEntry,
                "entry \(ledgerID):\(entryID) has digest \(hex(digest)), its bytes give \(hex(computed))"
            )
        }
        self.ledgerID = ledgerID
        self.entryID = entryID
        self.lastAddConfirmed = Int64(bitPattern: lac)
        self.ledgerLength = length
        self.payload = bytes.getSlice(at: bytes.readerIndex + Self.headerSize, length: bytes.readableBytes - Self.headerSize)!
    }
}

private func hex(_ value: UInt32) -> String {
    "0x" + String(value, radix: 16, uppercase: true)
}
