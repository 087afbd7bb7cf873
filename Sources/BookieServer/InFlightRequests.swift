import Synchronization

/// Counts the requests a server read and has not answered yet, so that a stopping server
/// can answer what it read before it closes its connections.
final class InFlightRequests: Sendable {
    private let count = Atomic(0)

    /// A request was read.
    func begin() {
        self.count.add(1, ordering: .relaxed)
    }

    /// A request's answer was queued for writing.
    func end() {
        self.count.subtract(1, ordering: .relaxed)
    }

    /// Requests read and not answered.
    var current: Int { self.count.load(ordering: .relaxed) }

    /// Returns once no request is waiting for its answer, or after `timeout`.
    func waitUntilNone(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while self.current > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
