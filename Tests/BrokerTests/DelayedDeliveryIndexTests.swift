@testable import Broker
import ManagedLedger
import Testing

/// The index of messages held for their delivery time, as a pure value.
@Suite("Delayed delivery index")
struct DelayedDeliveryIndexTests {
    static func at(_ entry: Int64) -> Position { Position(ledgerID: 1, entryID: entry) }
    static func add(_ index: inout DelayedDeliveryIndex, _ entry: Int64, _ time: Int64) -> Bool { index.add(Self.at(entry), at: time) }
    static func take(_ index: inout DelayedDeliveryIndex, _ now: Int64) -> [Position] { index.takeDue(now: now) }

    @Test func releasesByTimeInPositionOrder() {
        var index = DelayedDeliveryIndex(capacity: 100)
        let times: [Int64] = [50, 10, 30, 10, 70, 20, 60, 40]
        for (entry, time) in times.enumerated() { #expect(Self.add(&index, Int64(entry), time)) }
        #expect(index.count == 8 && index.nextTime == 10)
        #expect(Self.take(&index, 5).isEmpty)
        #expect(Self.take(&index, 20) == [Self.at(1), Self.at(3), Self.at(5)])
        #expect(index.nextTime == 30)
        #expect(Self.take(&index, 60) == [Self.at(0), Self.at(2), Self.at(6), Self.at(7)])
        #expect(Self.take(&index, .max) == [Self.at(4)])
        #expect(index.count == 0 && index.nextTime == nil)
    }

    @Test func isBounded() {
        var index = DelayedDeliveryIndex(capacity: 3)
        for entry in 0..<3 { #expect(Self.add(&index, Int64(entry), 100)) }
        #expect(index.isFull)
        #expect(!Self.add(&index, 9, 1), "a full index takes nothing more")
        #expect(Self.take(&index, 100).count == 3)
        #expect(Self.add(&index, 9, 1))
        index.removeAll()
        #expect(index.count == 0)
    }

    @Test func manyRandomTimesComeOutSorted() {
        var index = DelayedDeliveryIndex(capacity: 10_000)
        var generator = SystemRandomNumberGenerator()
        var expected: [(Int64, Position)] = []
        for entry in 0..<2_000 {
            let time = Int64.random(in: 0..<500, using: &generator)
            _ = Self.add(&index, Int64(entry), time)
            expected.append((time, Self.at(Int64(entry))))
        }
        for now in stride(from: Int64(0), to: 500, by: 50) {
            let due = Self.take(&index, now)
            let wanted = expected.filter { $0.0 <= now && $0.0 > now - 50 || (now == 0 && $0.0 <= 0) }.map(\.1).sorted()
            #expect(due == wanted, "at \(now)")
        }
    }
}
