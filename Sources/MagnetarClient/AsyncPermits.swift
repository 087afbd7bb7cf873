import Synchronization

/// A counting semaphore for async callers: the bound on a producer's pending messages.
///
/// ``acquire()`` waits while no permit is free (back-pressure), in arrival order;
/// ``release(_:)`` hands freed permits to the waiters. A cancelled waiter leaves the queue
/// and throws; ``fail(_:)`` wakes every waiter with an error for good.
final class AsyncPermits: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextWaiter: UInt64 = 0
        var failure: PulsarClientError?
    }

    private let state: Mutex<State>

    init(_ permits: Int) {
        self.state = Mutex(State(available: max(1, permits)))
    }

    /// Takes one permit, waiting while none is free.
    func acquire() async throws(PulsarClientError) {
        let fast: Result<Bool, PulsarClientError> = self.state.withLock { state in
            if let failure = state.failure { return .failure(failure) }
            if state.available > 0 && state.waiters.isEmpty {
                state.available -= 1
                return .success(true)
            }
            return .success(false)
        }
        if try fast.get() { return }
        let id = self.state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let immediate: Result<Void, any Error>? = self.state.withLock { state in
                        if let failure = state.failure { return .failure(failure) }
                        if Task.isCancelled { return .failure(PulsarClientError(.cancelled, "cancelled while waiting for room in the pending queue")) }
                        if state.available > 0 && state.waiters.isEmpty {
                            state.available -= 1
                            return .success(())
                        }
                        state.waiters.append((id, continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let continuation = self.state.withLock { state -> CheckedContinuation<Void, any Error>? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index).continuation
                }
                continuation?.resume(throwing: PulsarClientError(.cancelled, "cancelled while waiting for room in the pending queue"))
            }
        } catch {
            throw error as? PulsarClientError ?? PulsarClientError(.cancelled, "\(error)")
        }
    }

    /// Returns `count` permits.
    func release(_ count: Int = 1) {
        guard count > 0 else { return }
        let woken: [CheckedContinuation<Void, any Error>] = self.state.withLock { state in
            state.available += count
            var woken: [CheckedContinuation<Void, any Error>] = []
            while state.available > 0, !state.waiters.isEmpty {
                state.available -= 1
                woken.append(state.waiters.removeFirst().continuation)
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Fails every current and future ``acquire()`` with `error`.
    func fail(_ error: PulsarClientError) {
        let waiters = self.state.withLock { state in
            state.failure = error
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
