import Synchronization

/// Counts the services that use the store while they run (the servers, the flusher, the
/// garbage collector, the disk watcher), so that the journal service closes the store only
/// after the last of them stopped, however the group ends: in the service group's order at
/// graceful shutdown, or all at once when it is cancelled.
final class StoreUsers: Sendable {
    private struct State {
        var remaining: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// One lock, taken alone; continuations are resumed after it is released.
    private let state = Mutex(State(remaining: 0))

    init() {}

    /// Counts one more user; called for each before the group runs.
    func enter() {
        self.state.withLock { $0.remaining += 1 }
    }

    /// Called once by each user when it stopped touching the store.
    func leave() {
        let ready: [CheckedContinuation<Void, Never>] = self.state.withLock { state in
            state.remaining -= 1
            guard state.remaining <= 0 else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in ready { waiter.resume() }
    }

    /// Returns once every user left (not earlier when cancelled: the store must outlive
    /// its users).
    func waitUntilAllLeft() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = self.state.withLock { state in
                guard state.remaining > 0 else { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
