@testable import Broker
import Testing

/// Producer deduplication's decisions as a pure value.
@Suite("Deduplication decisions")
struct DeduplicationTests {
    static func check(_ state: inout Deduplication, _ producer: String, _ low: Int64, _ high: Int64) -> Deduplication.Verdict {
        state.check(producer: producer, low: low, high: high)
    }

    @Test func newThenInFlightThenDuplicate() {
        var state = Deduplication()
        #expect(Self.check(&state, "p", 0, 0) == .new)
        #expect(Self.check(&state, "p", 1, 9) == .new, "a batch of 1…9")
        // Sent again before the first copy is stored.
        #expect(Self.check(&state, "p", 5, 5) == .inFlight)
        #expect(state.lastSequenceID(of: "p") == -1)
        _ = state.stored(producer: "p", high: 0)
        #expect(Self.check(&state, "p", 0, 0) == .duplicate)
        #expect(Self.check(&state, "p", 1, 9) == .inFlight)
        _ = state.stored(producer: "p", high: 9)
        #expect(Self.check(&state, "p", 1, 9) == .duplicate)
        #expect(state.isStored(producer: "p", sequenceID: 5))
        #expect(state.lastSequenceID(of: "p") == 9)
        #expect(Self.check(&state, "p", 10, 10) == .new)
        // Producers are apart.
        #expect(Self.check(&state, "q", 0, 0) == .new)
    }

    @Test func aFailedWriteLetsUnstoredMessagesThrough() {
        var state = Deduplication()
        #expect(Self.check(&state, "p", 0, 0) == .new)
        _ = state.stored(producer: "p", high: 0)
        #expect(Self.check(&state, "p", 1, 1) == .new)
        state.forgetUnstored()
        #expect(Self.check(&state, "p", 1, 1) == .new, "1 was never stored: its resend is stored")
        #expect(Self.check(&state, "p", 0, 0) == .duplicate)
    }

    @Test func snapshotsAndReplay() {
        var state = Deduplication(snapshot: ["p": 41])
        #expect(state.lastSequenceID(of: "p") == 41)
        #expect(Self.check(&state, "p", 41, 41) == .duplicate)
        state.replayed(producer: "p", high: 50)
        state.replayed(producer: "", high: 3)
        #expect(Self.check(&state, "p", 50, 50) == .duplicate)
        #expect(state.lastSequenceID(of: "") == -1, "entries with no producer name are not tracked")
        var due = false
        for sequence in 51..<(51 + Deduplication.snapshotInterval) {
            #expect(state.check(producer: "p", low: Int64(sequence), high: Int64(sequence)) == .new)
            due = state.stored(producer: "p", high: Int64(sequence))
        }
        #expect(due, "a snapshot is due every \(Deduplication.snapshotInterval) entries")
        state.snapshotTaken()
        let dueAgain = state.stored(producer: "p", high: 2000)
        #expect(!dueAgain)
    }

    @Test func producersGoneLongerThanTheTimeoutAreForgotten() {
        var state = Deduplication(snapshot: ["gone": 7, "back": 3, "here": 9])
        // First round: nobody is forgotten yet; the count starts for those not connected.
        #expect(state.forgetInactive(connected: ["here"], now: 1_000, timeout: 500).isEmpty)
        // "back" reconnects before its time is up: its count stops.
        #expect(state.forgetInactive(connected: ["here", "back"], now: 1_400, timeout: 500).isEmpty)
        #expect(state.forgetInactive(connected: ["here", "back"], now: 1_500, timeout: 500) == ["gone"])
        #expect(state.lastSequenceID(of: "gone") == -1, "a forgotten producer starts again")
        #expect(Self.check(&state, "gone", 0, 0) == .new)
        #expect(state.lastSequenceID(of: "back") == 3 && state.lastSequenceID(of: "here") == 9)
        // A producer with a message still being stored is kept until it is stored.
        #expect(Self.check(&state, "back", 4, 4) == .new)
        #expect(state.forgetInactive(connected: [], now: 2_000, timeout: 500).isEmpty)
        #expect(state.forgetInactive(connected: [], now: 2_600, timeout: 500) == ["here"])
        _ = state.stored(producer: "back", high: 4)
        #expect(state.forgetInactive(connected: [], now: 2_700, timeout: 500) == ["back"])
    }
}
