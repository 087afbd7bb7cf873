import ManagedLedger
import Testing

/// Pulsar's retention rule as a pure value: which consumed ledgers may go.
@Suite("Retention rule")
struct RetentionRuleTests {
    typealias Info = ManagedLedger.LedgerInfo
    /// Three closed ledgers of 100 bytes closed at 1 000, 2 000 and 3 000 ms, and the current one.
    let ledgers = [
        Info(id: 1, entries: 10, size: 100, timestamp: 1_000), Info(id: 2, entries: 10, size: 100, timestamp: 2_000),
        Info(id: 3, entries: 10, size: 100, timestamp: 3_000), Info(id: 4, entries: 5, size: 50),
    ]

    @Test func noRetentionDeletesWhatEveryCursorPassed() {
        let rule = RetentionRule()
        #expect(rule.deletable(self.ledgers, slowest: Position(ledgerID: 2, entryID: 9), now: 10_000) == 2)
        #expect(rule.deletable(self.ledgers, slowest: Position(ledgerID: 2, entryID: 8), now: 10_000) == 1, "ledger 2 is not consumed to its end")
        #expect(rule.deletable(self.ledgers, slowest: Position(ledgerID: 1, entryID: -1), now: 10_000) == 0)
        // With no cursor, every closed ledger; never the current one.
        #expect(rule.deletable(self.ledgers, slowest: nil, now: 10_000) == 3)
    }

    @Test func timeKeepsLedgersClosedWithinIt() {
        let rule = RetentionRule(time: .seconds(8), size: nil)
        // At 10 s: ledger 1 closed 9 s ago goes, ledger 2 closed 8 s ago goes, ledger 3 stays.
        #expect(rule.deletable(self.ledgers, slowest: nil, now: 10_000) == 2)
        #expect(rule.deletable(self.ledgers, slowest: nil, now: 9_500) == 1)
        // A ledger listed without a closing time is never too old.
        var undated = self.ledgers
        undated[0].timestamp = nil
        #expect(rule.deletable(undated, slowest: nil, now: 100_000) == 0)
    }

    @Test func sizeKeepsTheNewestBytes() {
        // 350 bytes in all: keeping 200 lets ledgers 1 and 2 go (350 ≥ 200, 250 ≥ 200, 150 < 200).
        #expect(RetentionRule(time: nil, size: 200).deletable(self.ledgers, slowest: nil, now: 0) == 2)
        #expect(RetentionRule(time: nil, size: 1_000).deletable(self.ledgers, slowest: nil, now: 0) == 0)
        // Either limit passed is enough, as in Pulsar.
        #expect(RetentionRule(time: .seconds(9), size: 300).deletable(self.ledgers, slowest: nil, now: 10_000) == 1)
        // Unconsumed ledgers stay whatever retention says.
        #expect(RetentionRule(time: nil, size: 0).deletable(self.ledgers, slowest: Position(ledgerID: 1, entryID: 3), now: 0) == 0)
    }

    @Test func pulsarUnitsAndInfinite() {
        #expect(RetentionRule(minutes: -1, megabytes: -1) == .infinite)
        #expect(RetentionRule(minutes: 2, megabytes: 3) == RetentionRule(time: .seconds(120), size: 3 << 20))
        #expect(RetentionRule.infinite.deletable(self.ledgers, slowest: nil, now: .max) == 0)
    }
}
