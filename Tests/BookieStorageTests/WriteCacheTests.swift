@testable import BookieStorage
import NIOCore
import Testing

@Suite("Write cache")
struct WriteCacheTests {
    static func entry(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    /// Whatever order entries arrive in, a ledger's come out in entry order, each once,
    /// the latest version of a replaced one, and the byte count follows.
    @Test func entriesComeOutInOrderWhateverOrderTheyCameIn() {
        var cache = WriteCache()
        var expected: [UInt64: String] = [:]
        var random = SystemRandomNumberGenerator()
        let arrivals: [UInt64] = Array(0..<50) + (0..<60).map { _ in UInt64.random(in: 0..<80, using: &random) } + [200, 100, 150]
        for (version, entryID) in arrivals.enumerated() {
            let text = "entry \(entryID) version \(version)"
            cache.set(Self.entry(text), ledgerID: 7, entryID: entryID)
            expected[entryID] = text
        }
        let stored = cache.ledgers[7].map { Array($0) } ?? []
        #expect(stored.map(\.0) == expected.keys.sorted())
        #expect(stored.map { String(buffer: $0.1) } == expected.keys.sorted().map { expected[$0]! })
        #expect(cache.bytes == expected.values.reduce(0) { $0 + $1.utf8.count })
        for (entryID, text) in expected {
            #expect(cache.entry(ledgerID: 7, entryID: entryID).map { String(buffer: $0) } == text)
        }
        #expect(cache.entry(ledgerID: 7, entryID: 99) == nil)
        #expect(cache.entry(ledgerID: 7, entryID: 1000) == nil)
        #expect(cache.entry(ledgerID: 8, entryID: 0) == nil)
    }

    @Test func mergingKeepsTheNewerEntryAndRemovingALedgerDropsItsBytes() {
        var older = WriteCache()
        older.set(Self.entry("old 0"), ledgerID: 1, entryID: 0)
        older.set(Self.entry("old 1"), ledgerID: 1, entryID: 1)
        older.set(Self.entry("other"), ledgerID: 2, entryID: 5)
        var newer = WriteCache()
        newer.set(Self.entry("new 1, longer"), ledgerID: 1, entryID: 1)
        newer.set(Self.entry("new 2"), ledgerID: 1, entryID: 2)
        older.merge(newer)
        #expect(older.ledgers[1].map { Array($0).map { String(buffer: $0.1) } } == ["old 0", "new 1, longer", "new 2"])
        #expect(older.bytes == "old 0".utf8.count + "new 1, longer".utf8.count + "new 2".utf8.count + "other".utf8.count)
        older.removeLedger(1)
        #expect(older.bytes == "other".utf8.count)
        #expect(older.entry(ledgerID: 1, entryID: 0) == nil)
        older.removeLedger(2)
        #expect(older.isEmpty)
        #expect(older.bytes == 0)
    }
}
