import BookieWire
import NIOCore
import Testing

/// The writer frames an add with a digest computed once per entry: the frame must be the
/// one the bookie would get from an entry digested as it is written.
@Suite("Entry framing with a digest computed before")
struct EntryFramingTests {
    static let entries = [
        LedgerEntry(ledgerID: 7, entryID: 0, lastAddConfirmed: -1, ledgerLength: 3, payload: ByteBuffer(string: "abc")),
        LedgerEntry(ledgerID: 1 << 40, entryID: 12_345, lastAddConfirmed: 12_000, ledgerLength: 1 << 33, payload: ByteBuffer(repeating: 0xA5, count: 70_000)),
        LedgerEntry(ledgerID: 3, entryID: 9, lastAddConfirmed: 8, ledgerLength: 0, payload: ByteBuffer()),
    ]

    @Test(arguments: Self.entries)
    func theDigestIsTheOneTheEncodingCarries(_ entry: LedgerEntry) throws {
        var encoded = ByteBuffer()
        entry.write(into: &encoded)
        #expect(encoded.getInteger(at: 32, as: UInt32.self) == entry.digest)
        var header = ByteBuffer()
        entry.writeHeader(into: &header, digest: entry.digest)
        header.writeImmutableBuffer(entry.payload)
        #expect(header == encoded)
        #expect(try LedgerEntry(decoding: header) == entry)
    }

    @Test(arguments: Self.entries)
    func anAddFramedWithADigestIsTheSameFrame(_ entry: LedgerEntry) {
        let key: [UInt8] = Array("key".utf8)
        for recovery in [false, true] {
            var digestedHere = ByteBuffer()
            BookieRequest.writeAddHead(requestID: 42, entry: entry, ledgerKey: key, recovery: recovery, into: &digestedHere)
            var digestedBefore = ByteBuffer()
            BookieRequest.writeAddHead(requestID: 42, entry: entry, digest: entry.digest, ledgerKey: key, recovery: recovery, into: &digestedBefore)
            #expect(digestedBefore == digestedHere)
        }
    }
}
