import ClusterTesting
import Foundation
import Testing

/// Several brokers over the same bookies: topics are owned by one broker at a time,
/// found by lookup from any broker, and move on their own when their owner dies, pauses
/// or unloads them, with nothing copied and nothing receipted lost.
@Suite("Brokers in a cluster", .serialized, .timeLimit(.minutes(5)))
struct MultiBrokerTests {
    /// Short sessions so that failovers are quick; shedding off unless a test wants it.
    static let arguments = ["--session-ttl-seconds", "2", "--load-shedding-interval-seconds", "0"]

    @Test(arguments: FleetMetadata.allCases)
    func twentyTopicsAreEachServedByOneBroker(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-topics", metadata: metadata, brokers: 3, arguments: Self.arguments)
        defer { fleet.stop() }
        let urls = (0..<3).map(fleet.serviceURL).joined(separator: ",")
        let run = try await fleet.python("cluster_workload.py", [urls, "spread", "20", "200"])
        #expect(run.status == 0 && run.output.contains("OK 20 topics"), "\(run.output.suffix(3000))")
        // Every broker names the same owner for each topic.
        var owners: [Int: Int] = [:]
        for topic in 0..<20 {
            let answers = try await [fleet.owner(of: "spread-\(topic)", asking: 0), fleet.owner(of: "spread-\(topic)", asking: 1), fleet.owner(of: "spread-\(topic)", asking: 2)]
            #expect(Set(answers).count == 1, "topic \(topic): owners \(answers)")
            owners[topic] = answers[0]
        }
        // No bundle is owned twice, and the bundles are spread over the brokers.
        let owned = try await [fleet.ownedBundles(0), fleet.ownedBundles(1), fleet.ownedBundles(2)]
        #expect(owned.map(\.count).reduce(0, +) == Set(owned.joined()).count, "\(owned)")
        #expect(owned.filter { !$0.isEmpty }.count >= 2, "\(owned)")
        #expect(Set(owners.values).count >= 2, "\(owners)")
        // A partitioned topic made through one broker is known to every other: its
        // partitions, spread over the bundles, are served wherever they are owned.
        #expect(try await fleet.request("PUT", 0, "/admin/v2/persistent/public/default/parts/partitions", body: "4").status == 204)
        let parts = try await fleet.python("partitioned.py", [fleet.serviceURL(2), "persistent://public/default/parts", "400"])
        #expect(parts.status == 0 && parts.output.contains("OK 400 messages"), "\(parts.output.suffix(3000))")
    }

    @Test(arguments: FleetMetadata.allCases)
    func killingTheOwnerOfABusyTopicLosesNothing(metadata: FleetMetadata) async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-kill", metadata: metadata, brokers: 3, arguments: Self.arguments)
        defer { fleet.stop() }
        let producer = try fleet.background("produce_with_ids.py", [fleet.serviceURL, "busy"], log: "producer")
        let consumer = try fleet.background("keep_consuming.py", [fleet.serviceURL, "busy"], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForReceipts(producer, atLeast: 300)
        let owner = try await fleet.owner(of: "busy", asking: 0)
        let before = Self.receipts(producer).count
        fleet.kill(owner)
        let killedAt = ContinuousClock.now
        try await Self.waitForReceipts(producer, atLeast: before + 300)
        let survivor = try await fleet.owner(of: "busy", asking: (owner + 1) % 3)
        #expect(survivor != owner)
        try await Self.finish(fleet: fleet, producer: producer, consumer: consumer)
        print("failover after SIGKILL: receipts resumed within \(ContinuousClock.now - killedAt) (session TTL 2 s)")
    }

    @Test func aPausedOwnerAcknowledgesNothingOnceItsSessionExpired() async throws {
        let fleet = try await BrokerFleet.start(label: "fleet-pause", metadata: .etcd, brokers: 3, arguments: Self.arguments)
        defer { fleet.stop() }
        let producer = try fleet.background("produce_with_ids.py", [fleet.serviceURL, "paused"], log: "producer")
        let consumer = try fleet.background("keep_consuming.py", [fleet.serviceURL, "paused"], log: "consumer")
        defer {
            producer.stop()
            consumer.stop()
        }
        try await Self.waitForReceipts(producer, atLeast: 300)
        let owner = try await fleet.owner(of: "paused", asking: 0)
        fleet.pause(owner)
        // Past the 2 s session another broker takes the topic over: a new subscriber
        // loads it there (fencing the paused owner's ledger) and reads it.
        try await Task.sleep(for: .seconds(3))
        let others = (0..<3).filter { $0 != owner }.map { "127.0.0.1:\(fleet.port($0))" }.joined(separator: ",")
        let reader = try await fleet.python("read_some.py", ["pulsar://" + others, "paused", "during-pause", "100"], timeout: .seconds(60))
        #expect(reader.status == 0 && reader.output.contains("DONE"), "\(reader.output.suffix(2000))")
        let newOwner = try await fleet.owner(of: "paused", asking: (owner + 1) % 3)
        #expect(newOwner != owner)
        // Woken up, the old owner finds its lease over and closes the topic: its clients
        // move to the new owner at once (not after their send timeout).
        let before = Self.receipts(producer).count
        fleet.resume(owner)
        let resumedAt = ContinuousClock.now
        try await Self.waitForReceipts(producer, atLeast: before + 200, within: .seconds(20))
        print("after SIGCONT, 200 more receipts within \(ContinuousClock.now - resumedAt)")
        try await Self.finish(fleet: fleet, producer: producer, consumer: consumer)
        let log = try fleet.process(owner).map { try String(contentsOfFile: $0.logPath, encoding: .utf8) } ?? ""
        #expect(log.contains("the broker's metadata session ended"), "the paused broker did not notice it lost its session")
    }

    // MARK: Checks

    struct Receipt {
        var number: Int
        var ledger: Int
        var entry: Int
    }

    static func receipts(_ producer: ChildProcess) -> [Receipt] {
        producer.output().split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 4, fields[0] == "R", let number = Int(fields[1]), let ledger = Int(fields[2]), let entry = Int(fields[3]) else { return nil }
            return Receipt(number: number, ledger: ledger, entry: entry)
        }
    }

    static func consumed(_ consumer: ChildProcess) -> [Int] {
        BrokerCluster.numbers(in: consumer.output(), prefix: "M ")
    }

    static func waitForReceipts(_ producer: ChildProcess, atLeast count: Int, within timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while Self.receipts(producer).count < count {
            guard ContinuousClock.now < deadline, producer.isRunning else {
                throw TestHarnessError("\(Self.receipts(producer).count) receipts, waited for \(count): \(producer.output().suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    static func waitForConsumed(_ consumer: ChildProcess, all numbers: [Int], within timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        let wanted = Set(numbers)
        while !wanted.isSubset(of: Set(Self.consumed(consumer))) {
            guard ContinuousClock.now < deadline, consumer.isRunning else { return }  // The check says what is missing.
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Stops the producer, lets the consumer catch up, stops it, and checks what both saw.
    static func finish(fleet: BrokerFleet, producer: ChildProcess, consumer: ChildProcess) async throws {
        producer.stop()
        try await Self.waitForConsumed(consumer, all: Self.receipts(producer).map(\.number))
        consumer.stop()
        try Self.checkNothingLost(fleet: fleet, producer: producer, consumer: consumer)
    }

    /// Every receipted number was consumed, first seen in the order sent; receipts are in
    /// the order sent; and no broker acknowledged into a ledger older than one another
    /// broker had already acknowledged into (a stale owner receipting after losing the
    /// topic).
    static func checkNothingLost(fleet: BrokerFleet, producer: ChildProcess, consumer: ChildProcess) throws {
        let receipts = Self.receipts(producer)
        let consumed = Self.consumed(consumer)
        let missing = Set(receipts.map(\.number)).subtracting(consumed)
        #expect(missing.isEmpty, "\(missing.count) receipted messages never consumed, e.g. \(missing.sorted().prefix(10))")
        if !missing.isEmpty { fleet.printLogs(consumer) }
        var seen = Set<Int>()
        let firsts = consumed.filter { seen.insert($0).inserted }
        #expect(firsts == firsts.sorted(), "messages first consumed out of order")
        #expect(receipts.map(\.number) == Array(0..<receipts.count), "receipts not in the order sent")
        let ledgers = receipts.map(\.ledger)
        #expect(ledgers == ledgers.sorted(), "a receipt names a ledger older than an earlier receipt's: \(Set(ledgers).sorted())")
    }
}
