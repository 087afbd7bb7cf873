import Autorecovery
import Ledger
import Testing

/// The pure decisions of re-replication: what a bookie holds, where its copies go, which
/// bookies are lost, which ledgers are marked, how fast copies go.
@Suite("Re-replication decisions")
struct ReplicationDecisionTests {
    static func metadata(
        _ ensembles: [(Int64, [String])], ensembleSize: Int = 3, writeQuorum: Int = 3, last: Int64, state: LedgerMetadata.State = .closed
    ) -> LedgerMetadata {
        LedgerMetadata(
            state: state, ensembleSize: ensembleSize, writeQuorum: writeQuorum, ackQuorum: 2,
            ensembles: ensembles.map { .init(firstEntryID: $0.0, bookies: $0.1) }, lastEntryID: last, length: 0, digestType: "CRC32C",
            password: "00", creationTime: 0, customMetadata: [:]
        )
    }

    @Test func fragmentsFollowWriteSetsAndSegments() {
        // 3/2/2: entry e is on indices e%3 and (e+1)%3.
        let ledger = Self.metadata([(0, ["a", "b", "c"]), (6, ["a", "d", "c"])], writeQuorum: 2, last: 9)
        let onB = ledger.fragments(on: ["b"])
        #expect(onB == [LedgerFragment(segment: 0, bookieIndex: 1, bookie: "b", entries: [0, 1, 3, 4])])
        let onA = ledger.fragments(on: ["a"])
        #expect(onA.map(\.entries) == [[0, 2, 3, 5], [6, 8, 9]], "\(onA)")
        // 3/3/2: every bookie of a segment has all its entries.
        let full = Self.metadata([(0, ["a", "b", "c"]), (5, ["a", "b", "d"])], last: 7)
        #expect(full.fragments(on: ["c", "d"]).map(\.entries) == [[0, 1, 2, 3, 4], [5, 6, 7]])
        // An empty ledger, and a segment past the last entry, hold nothing but are named.
        let empty = Self.metadata([(0, ["a", "b", "c"]), (3, ["a", "b", "e"])], last: 2)
        #expect(empty.fragments(on: ["e"]) == [LedgerFragment(segment: 1, bookieIndex: 2, bookie: "e", entries: [])])
        #expect(Self.metadata([(0, ["a", "b", "c"])], last: -1).fragments(on: ["a"]).map(\.entries) == [[]])
    }

    @Test func deadBookiesAreReplacedPerSegmentByThePlacementRules() throws {
        let ledger = Self.metadata([(0, ["a", "b", "c"]), (5, ["a", "d", "c"])], last: 9)
        let candidates = ["a", "c", "d", "e", "f"].map { BookiePlacement.Candidate(id: $0, rack: $0 == "e" ? "r1" : $0 == "f" ? "r2" : "r1") }
        var load: [String: Int] = [:]
        let plan = try ReplicationPlan.make(
            for: ledger, replacing: ["a"], live: ["c", "d", "e", "f"], decommissioned: [], candidates: candidates, load: &load
        )
        #expect(plan.copies.count == 2 && plan.copies.allSatisfy { !$0.inPlace })
        // Segment 0 keeps b and c (c on r1): the replacement goes to a rack not in use.
        #expect(plan.updated.ensembles[0].bookies == ["f", "b", "c"], "\(plan.updated.ensembles)")
        // Segment 1: d and c are on r1; f is now loaded, so the rule still prefers it for its
        // rack over e.
        #expect(plan.updated.ensembles[1].bookies[0] == "f" && plan.updated.ensembles[1].bookies[1...] == ["d", "c"])
        #expect(load == ["f": 2])
        #expect(plan.copies.map(\.fragment.entries) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        #expect(plan.changesEnsembles)
    }

    @Test func aLiveBookieIsToppedUpInPlaceAndADecommissionedOneIsNot() throws {
        let ledger = Self.metadata([(0, ["a", "b", "c"])], last: 3)
        let candidates = ["a", "b", "c", "d"].map { BookiePlacement.Candidate(id: $0) }
        var load: [String: Int] = [:]
        let inPlace = try ReplicationPlan.make(
            for: ledger, replacing: ["b"], live: ["a", "b", "c", "d"], decommissioned: [], candidates: candidates, load: &load
        )
        #expect(inPlace.copies.map(\.target) == ["b"] && !inPlace.changesEnsembles && inPlace.updated == ledger)
        let drained = try ReplicationPlan.make(
            for: ledger, replacing: ["b"], live: ["a", "b", "c", "d"], decommissioned: ["b"],
            candidates: candidates.filter { $0.id != "b" }, load: &load
        )
        #expect(drained.updated.ensembles[0].bookies == ["a", "d", "c"])
        #expect(throws: LedgerError.self) {
            var load: [String: Int] = [:]
            _ = try ReplicationPlan.make(
                for: ledger, replacing: ["b"], live: ["a", "c"], decommissioned: [], candidates: candidates.filter { $0.id != "d" && $0.id != "b" },
                load: &load
            )
        }
    }

    @Test func placementPrefersNewRacksThenLeastLoadedAndQuarantinedLast() throws {
        let candidates = [
            BookiePlacement.Candidate(id: "a", rack: "r1", load: 0), BookiePlacement.Candidate(id: "b", rack: "r1", load: 0),
            BookiePlacement.Candidate(id: "c", rack: "r2", load: 5), BookiePlacement.Candidate(id: "d", rack: "r3", quarantined: true),
        ]
        #expect(try BookiePlacement.choose(2, from: candidates, excluding: []) == ["a", "c"])
        #expect(try BookiePlacement.choose(3, from: candidates, excluding: []) == ["a", "c", "b"])
        #expect(try BookiePlacement.choose(4, from: candidates, excluding: []).last == "d")
        #expect(throws: LedgerError.self) { try BookiePlacement.choose(4, from: candidates, excluding: [], allowQuarantined: false) }
    }

    @Test func aBookieIsLostAfterTheGraceOrWhenDecommissioned() {
        var absence = BookieAbsence<ContinuousClock.Instant>(grace: .seconds(10))
        let start = ContinuousClock.now
        let known: Set<String> = ["a", "b", "c", "d"]
        #expect(absence.observe(now: start, known: known, registered: ["a", "b", "c"], decommissioned: []) == [])
        #expect(absence.observe(now: start + .seconds(9), known: known, registered: ["a", "b", "c"], decommissioned: []) == [])
        #expect(absence.observe(now: start + .seconds(10), known: known, registered: ["a", "b", "c"], decommissioned: []) == ["d"])
        // d comes back, c leaves: c's clock starts now, d's is forgotten.
        #expect(absence.observe(now: start + .seconds(11), known: known, registered: ["a", "b", "d"], decommissioned: ["a"]) == ["a"])
        #expect(absence.observe(now: start + .seconds(20), known: known, registered: ["a", "b"], decommissioned: []) == [])
        #expect(absence.observe(now: start + .seconds(21), known: known, registered: ["a", "b"], decommissioned: []) == ["c"])
        #expect(absence.observe(now: start + .seconds(31), known: known, registered: ["a", "b"], decommissioned: []) == ["c", "d"])
    }

    @Test func onlyClosedLedgersWithALostCopyAreMarked() {
        let ledgers: [(id: Int64, metadata: LedgerMetadata)] = [
            (1, Self.metadata([(0, ["a", "b", "c"])], last: 5)),
            (2, Self.metadata([(0, ["a", "b", "d"])], last: 5, state: .open)),
            (3, Self.metadata([(0, ["b", "c", "e"]), (3, ["b", "d", "e"])], last: 5)),
            (4, Self.metadata([(0, ["a", "b", "c"])], last: 5, state: .inRecovery)),
        ]
        let marked = LedgerAudit.ledgersToMark(ledgers, lost: ["d", "c"])
        #expect(marked.map(\.id) == [1, 3])
        #expect(marked.map(\.bookies) == [["c"], ["c", "d"]])
    }

    @Test func thePacerHoldsCopiesToTheRate() {
        #expect(BytePacer.delay(total: 0, adding: 1_000, elapsed: .zero, bytesPerSecond: 1_000) == .seconds(1))
        #expect(BytePacer.delay(total: 1_000, adding: 1_000, elapsed: .seconds(1), bytesPerSecond: 1_000) == .seconds(1))
        #expect(BytePacer.delay(total: 1_000, adding: 1_000, elapsed: .seconds(3), bytesPerSecond: 1_000) == .zero)
        #expect(BytePacer.delay(total: 10, adding: 10, elapsed: .zero, bytesPerSecond: 0) == .zero, "no limit")
    }
}
