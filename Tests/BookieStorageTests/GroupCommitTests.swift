@testable import BookieStorage
import Testing

/// The journal's group-commit rule on a made-up clock.
@Suite struct GroupCommitTests {
    /// Milliseconds since some start.
    struct Instant: InstantProtocol {
        var milliseconds: Int64
        func advanced(by duration: Duration) -> Instant {
            Instant(milliseconds: self.milliseconds + duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        }
        func duration(to other: Instant) -> Duration { .milliseconds(other.milliseconds - self.milliseconds) }
        static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
    }

    static func at(_ milliseconds: Int64) -> Instant { Instant(milliseconds: milliseconds) }

    @Test func anEmptyGroupIsNeverWritten() {
        let group = GroupCommit<Instant>(maxWait: .milliseconds(2), maxBytes: 100)
        #expect(!group.shouldCommit(now: Self.at(1000), bytes: 0, queueDrained: true, closing: true))
    }

    @Test func aGroupWaitsWhileMoreAreQueuedUntilItsOldestIsDueOrItIsFull() {
        var group = GroupCommit<Instant>(maxWait: .milliseconds(2), maxBytes: 100)
        group.added(queuedAt: Self.at(10))
        group.added(queuedAt: Self.at(11))
        #expect(!group.shouldCommit(now: Self.at(11), bytes: 50, queueDrained: false, closing: false), "more are coming and it is young")
        #expect(group.shouldCommit(now: Self.at(12), bytes: 50, queueDrained: false, closing: false), "the oldest waited 2 ms")
        #expect(group.shouldCommit(now: Self.at(11), bytes: 100, queueDrained: false, closing: false), "full")
        #expect(group.shouldCommit(now: Self.at(11), bytes: 50, queueDrained: true, closing: false), "nothing else queued")
        #expect(group.shouldCommit(now: Self.at(11), bytes: 50, queueDrained: false, closing: true), "closing")
        group.committed()
        #expect(group.oldest == nil)
        group.added(queuedAt: Self.at(20))
        #expect(!group.shouldCommit(now: Self.at(21), bytes: 1, queueDrained: false, closing: false), "the wait starts again with the next group")
    }
}
