import NIOCore
import NIOEmbedded
import Testing

@testable import Ledger

@Suite("Ensemble placement")
struct PlacementTests {
    static func directory(_ bookies: [(String, String?, Bool)]) -> (BookieDirectory, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let directory = BookieDirectory(eventLoop: loop, quarantineTime: .seconds(30), requestTimeout: .seconds(5))
        directory.update(bookies.map { BookieRegistration(id: $0.0, address: "127.0.0.1:1", rack: $0.1, writable: $0.2) })
        return (directory, loop)
    }

    @Test func ensemblesSpreadOverRacksAndSkipReadOnlyBookies() throws {
        let (directory, _) = Self.directory([
            ("a1", "a", true), ("a2", "a", true), ("b1", "b", true), ("b2", "b", true), ("c1", "c", true), ("c2", "c", false), ("d1", "d", true),
        ])
        let chosen = try directory.choose(3, excluding: [])
        #expect(Set(chosen.compactMap { directory.rack(of: $0) }).count == 3, "three racks: \(chosen)")
        #expect(!chosen.contains("c2"), "read-only bookies take no new ensembles")
        // A replacement avoids the racks the rest of the ensemble is on, when it can.
        let replacement = try directory.choose(1, excluding: ["a1", "b1"], racksInUse: ["a", "b"])
        #expect(["c", "d"].contains(directory.rack(of: replacement[0]) ?? ""), "\(replacement)")
    }

    @Test func leastLoadedFirstAndQuarantinedLast() throws {
        let (directory, _) = Self.directory([("x", nil, true), ("y", nil, true), ("z", nil, true), ("w", nil, true)])
        let first = try directory.choose(2, excluding: [])
        let second = try directory.choose(2, excluding: [])
        #expect(Set(first).isDisjoint(with: second), "the second ensemble goes to the bookies not yet used: \(first) \(second)")
        directory.markFailed("x")
        directory.released(first)
        directory.released(second)
        #expect(!(try directory.choose(3, excluding: [])).contains("x"), "a quarantined bookie only when needed")
        #expect(try directory.choose(4, excluding: []).contains("x"), "and used when it is needed")
        #expect(throws: LedgerError.self) { try directory.choose(4, excluding: [], allowQuarantined: false) }
    }
}
