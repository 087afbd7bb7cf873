@testable import Broker
import Testing

/// The counts behind back-pressure: SENDs awaiting receipts per connection, bytes of
/// them per broker, connections per address; and what writability coming back resumes.
@Suite struct BackPressureTests {
    @Test func aConnectionPausesAtItsPendingLimitAndResumesAtHalf() {
        let window = PublishWindow(maxPending: 4, buffer: PublishBuffer(limit: 1 << 30))
        #expect(!window.admitted(bytes: 10) && !window.admitted(bytes: 10) && !window.admitted(bytes: 10))
        #expect(window.admitted(bytes: 10), "the fourth pauses reading")
        #expect(!window.admitted(bytes: 10), "paused already: said once")
        #expect(!window.completed(bytes: 10) && !window.completed(bytes: 10))
        #expect(window.completed(bytes: 10), "two left of four: read again")
        #expect(!window.isPaused && window.pendingCount == 2)
        #expect(!window.completed(bytes: 10))
    }

    @Test func theBrokersBufferPausesEveryConnectionThatTakesASendPastIt() {
        let buffer = PublishBuffer(limit: 100)
        let first = PublishWindow(maxPending: 1000, buffer: buffer)
        let second = PublishWindow(maxPending: 1000, buffer: buffer)
        #expect(!first.admitted(bytes: 60))
        #expect(second.admitted(bytes: 60), "120 bytes held of 100")
        #expect(!first.completed(bytes: 60), "first was not paused")
        #expect(second.completed(bytes: 60), "a connection with nothing left waiting reads again")
        #expect(buffer.total == 0)
    }

    @Test func connectionsAreCountedInAllAndPerAddress() {
        let limiter = ConnectionLimiter(maxConnections: 3, maxPerAddress: 2)
        #expect(limiter.admit("10.0.0.1") && limiter.admit("10.0.0.1"))
        #expect(!limiter.admit("10.0.0.1"), "a third from one address")
        #expect(limiter.admit("10.0.0.2"))
        #expect(!limiter.admit("10.0.0.3"), "a fourth in all")
        limiter.release("10.0.0.1")
        #expect(limiter.admit("10.0.0.3") && limiter.total == 3)
        let unlimited = ConnectionLimiter(maxConnections: 0, maxPerAddress: 0)
        #expect((0..<1000).allSatisfy { _ in unlimited.admit("a") })
    }

    @Test func writabilityComingBackResumesTheConsumers() {
        var machine = PulsarConnectionStateMachine<String, String>()
        _ = machine.received(InputBoundsTests.connect())
        _ = machine.consumerCreated(1, "c1")
        _ = machine.consumerCreated(2, "c2")
        guard case .none = machine.writabilityChanged(false) else {
            Issue.record("not writable resumed something")
            return
        }
        guard case .resumeDispatch(let consumers) = machine.writabilityChanged(true) else {
            Issue.record("writable again resumed nothing")
            return
        }
        #expect(Set(consumers) == ["c1", "c2"])
    }
}
