@testable import Broker
import PulsarProto
import Testing

/// A consumer for the dispatch rules alone.
final class FakeConsumer: DispatchTarget {
    let name: String
    let priorityLevel: Int32
    var permits: Int

    init(_ name: String, priority: Int32 = 0, permits: Int = 10) {
        self.name = name
        self.priorityLevel = priority
        self.permits = permits
    }
}

@Suite("Dispatch rules of the four subscription types")
struct ConsumerSetTests {
    @Test func exclusiveTakesOneConsumerAndTypesMustMatch() throws {
        var set = ConsumerSet<FakeConsumer>(type: .exclusive, partition: -1)
        let first = FakeConsumer("a")
        try set.add(first, type: .exclusive, subscription: "s")
        #expect(throws: BrokerError.self) { try set.add(FakeConsumer("b"), type: .exclusive, subscription: "s") }
        #expect(throws: BrokerError.self) { try set.add(FakeConsumer("c"), type: .shared, subscription: "s") }
        #expect(set.nextConsumer() === first)
        first.permits = 0
        #expect(set.nextConsumer() == nil, "a consumer without permits gets nothing")
        set.remove(first)
        // Once empty, the next consumer sets the type again.
        try set.add(FakeConsumer("d"), type: .shared, subscription: "s")
        #expect(set.type == .shared)
    }

    @Test func sharedDealsRoundRobinToConsumersWithPermits() throws {
        var set = ConsumerSet<FakeConsumer>(type: .shared, partition: -1)
        let consumers = [FakeConsumer("a"), FakeConsumer("b"), FakeConsumer("c")]
        for consumer in consumers { try set.add(consumer, type: .shared, subscription: "s") }
        #expect((0..<6).map { _ in set.nextConsumer()!.name } == ["a", "b", "c", "a", "b", "c"])
        consumers[1].permits = 0
        #expect((0..<4).map { _ in set.nextConsumer()!.name } == ["a", "c", "a", "c"])
        set.remove(consumers[0])
        #expect((0..<2).map { _ in set.nextConsumer()!.name } == ["c", "c"])
        consumers[2].permits = 0
        #expect(set.nextConsumer() == nil)
    }

    @Test func failoverPicksByPriorityThenNameAndPartition() throws {
        var set = ConsumerSet<FakeConsumer>(type: .failover, partition: -1)
        let b = FakeConsumer("b")
        let a = FakeConsumer("a")
        let urgent = FakeConsumer("z", priority: -1)
        try set.add(b, type: .failover, subscription: "s")
        #expect(set.active === b)
        try set.add(a, type: .failover, subscription: "s")
        #expect(set.active === a, "names rank consumers of one priority")
        try set.add(urgent, type: .failover, subscription: "s")
        #expect(set.active === urgent, "a lower priority level ranks first")
        #expect(set.nextConsumer() === urgent)
        set.remove(urgent)
        #expect(set.active === a)
        a.permits = 0
        #expect(set.nextConsumer() == nil, "only the active consumer receives")

        // Partition N of a topic: the N-th consumer (mod count) of the best priority.
        var partitioned = ConsumerSet<FakeConsumer>(type: .failover, partition: 4)
        let ranked = ["c0", "c1", "c2"].map { FakeConsumer($0) }
        for consumer in ranked.reversed() { try partitioned.add(consumer, type: .failover, subscription: "s") }
        #expect(partitioned.active === ranked[4 % 3])
        partitioned.remove(ranked[1])
        #expect(partitioned.active === ranked[0], "4 mod 2 picks the first of c0, c2")
    }

    @Test func keySharedKeepsKeysWithTheirConsumers() throws {
        var set = ConsumerSet<FakeConsumer>(type: .keyShared, partition: -1)
        let a = FakeConsumer("a")
        let b = FakeConsumer("b")
        try set.add(a, type: .keyShared, subscription: "s")
        try set.add(b, type: .keyShared, subscription: "s")
        let keys = (0..<3000).map { "key-\($0)" }
        let before = keys.map { set.owner(ofKey: $0)! }
        #expect(keys.map { set.owner(ofKey: $0)! }.elementsEqual(before, by: ===), "ownership is a function of the key")

        let c = FakeConsumer("c")
        try set.add(c, type: .keyShared, subscription: "s")
        let joined = keys.map { set.owner(ofKey: $0)! }
        for (old, new) in zip(before, joined) {
            #expect(new === old || new === c, "a key moved between consumers that stayed")
        }
        for consumer in [a, b, c] {
            let share = joined.filter { $0 === consumer }.count
            #expect(share > 600, "\(consumer.name) owns \(share) of 3000 keys")
        }

        set.remove(c)
        let left = keys.map { set.owner(ofKey: $0)! }
        #expect(left.elementsEqual(before, by: ===), "when the newcomer leaves, keys go back where they were")
        set.remove(a)
        #expect(keys.allSatisfy { set.owner(ofKey: $0) === b })
    }
}
