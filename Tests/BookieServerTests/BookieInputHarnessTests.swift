@testable import BookieServer
import BookieWire
import NIOCore
import Testing

/// The bookie fuzz harness reaches the real request paths: each of its seeds is answered
/// OK, and the key check and fencing refuse what they should.
@Suite("Bookie fuzz harness", .timeLimit(.minutes(1)))
struct BookieInputHarnessTests {
    static func answers(_ bytes: [UInt8]) -> [UInt64: BookieStatus] {
        let responses = bytes.withUnsafeBytes { BookieInputHarness.answers(to: $0) }
        return Dictionary(responses.map { ($0.requestID, $0.status) }, uniquingKeysWith: { first, _ in first })
    }

    static func add(ledger: UInt64, key: [UInt8]) -> [UInt8] {
        let entry = LedgerEntry(ledgerID: ledger, entryID: 0, lastAddConfirmed: -1, ledgerLength: 1, payload: ByteBuffer(string: "x"))
        var encoded = ByteBuffer()
        entry.write(into: &encoded)
        var frame = ByteBuffer()
        BookieRequest(requestID: 99, .add(entry: encoded, ledgerKey: key, recovery: false)).write(into: &frame)
        return Array(frame.readableBytesView)
    }

    @Test func theSeedsAreAnsweredAndTheChecksRefuse() {
        // One request per seed, each answered before the next (in the session seed they
        // overlap, so a READ may pass the ADD before it).
        let seeds = BookieInputHarness.seeds().dropLast()
        #expect(seeds.count == 7)
        for (index, seed) in seeds.enumerated() {
            #expect(Self.answers(seed) == [UInt64(index + 1): .ok])
        }
        #expect(Self.answers(Self.add(ledger: 1, key: BookieInputHarness.key)) == [99: .fenced])
        #expect(Self.answers(Self.add(ledger: 2, key: Array("wrong".utf8))) == [99: .unauthorized])
        #expect(Self.answers(Self.add(ledger: 9, key: BookieInputHarness.key)) == [99: .noLedger])
        #expect(Self.answers(Self.add(ledger: 2, key: BookieInputHarness.key)) == [99: .ok])
        #expect(Self.answers([0, 0, 0, 3, 1, 2, 3]).isEmpty)
    }
}
