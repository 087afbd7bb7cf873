import Testing

@Suite struct WorkloadCheckTests {
    /// Producer "a" (dedup) and "b" (no dedup), 5 messages each, stored in order; every
    /// subscription receives them all.
    static func clean() -> (receipts: [Receipt], deliveries: [Delivery]) {
        var receipts: [Receipt] = []
        var deliveries: [Delivery] = []
        for (ledger, producer) in [(Int64(10), "a"), (Int64(20), "b")] {
            for sequence in 0..<5 {
                let position = Position(ledger: ledger, entry: Int64(sequence))
                receipts.append(Receipt(producer: producer, sequence: sequence, position: position))
                for subscription in ["s1", "s2"] {
                    deliveries.append(Delivery(subscription: subscription, producer: producer, sequence: sequence, position: position))
                }
            }
        }
        return (receipts, deliveries)
    }

    static func check(_ receipts: [Receipt], _ deliveries: [Delivery]) -> WorkloadReport {
        WorkloadCheck.check(receipts: receipts, deliveries: deliveries, subscriptions: ["s1", "s2"], dedupProducers: ["a"])
    }

    @Test func aCleanRunPasses() {
        let (receipts, deliveries) = Self.clean()
        // Redelivery of the same position is not a duplicate.
        let report = Self.check(receipts, deliveries + [deliveries[0]])
        #expect(report.passed)
        #expect(report.acknowledged == 10)
        #expect(report.duplicatesWithoutDedup.isEmpty)
    }

    @Test func findsALossInOneSubscription() {
        let (receipts, deliveries) = Self.clean()
        let report = Self.check(receipts, deliveries.filter { !($0.subscription == "s2" && $0.producer == "b" && $0.sequence == 3) })
        #expect(!report.passed)
        #expect(report.lost == [.init(subscription: "s2", producer: "b", sequence: 3, receiptPosition: Position(ledger: 20, entry: 3))])
    }

    @Test func findsAReorder() {
        let receipts = Self.clean().receipts
        var deliveries = Self.clean().deliveries
        // a#1 stored after a#2.
        for index in deliveries.indices where deliveries[index].producer == "a" {
            if deliveries[index].sequence == 1 { deliveries[index].position.entry = 2 } else if deliveries[index].sequence == 2 { deliveries[index].position.entry = 1 }
        }
        let report = Self.check(receipts, deliveries)
        #expect(!report.passed)
        #expect(report.reordered.map(\.sequence) == [1])
        #expect(report.lost.isEmpty)
    }

    @Test func findsDuplicatesAndFailsOnlyWhereDedupIsOn() {
        let (receipts, deliveries) = Self.clean()
        let copyOfB = Delivery(subscription: "s1", producer: "b", sequence: 4, position: Position(ledger: 21, entry: 0))
        let withoutDedup = Self.check(receipts, deliveries + [copyOfB])
        #expect(withoutDedup.passed)
        #expect(withoutDedup.duplicatesWithoutDedup.map(\.sequence) == [4])
        let copyOfA = Delivery(subscription: "s2", producer: "a", sequence: 2, position: Position(ledger: 11, entry: 0))
        let withDedup = Self.check(receipts, deliveries + [copyOfA])
        #expect(!withDedup.passed)
        #expect(withDedup.duplicatesWithDedup == [.init(producer: "a", sequence: 2, positions: [Position(ledger: 10, entry: 2), Position(ledger: 11, entry: 0)])])
        // A resend stored again after later messages is a duplicate, not a reorder.
        #expect(withDedup.reordered.isEmpty)
    }

    @Test func parsesTheClientsLines() {
        let lines = FaultWorkload.lines("STARTED\nR faults-0-a 7 12 3\nE faults-0-a 8 Timeout\nR faults-0-b 1 -1 -1\n", tag: "R")
        #expect(lines.count == 2)
        #expect(lines.first?.producer == "faults-0-a" && lines.first?.sequence == 7 && lines.first?.position == Position(ledger: 12, entry: 3))
        #expect(lines.last?.position == Position(ledger: -1, entry: -1))
    }
}
