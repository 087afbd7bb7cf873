import NIOCore
import Synchronization

/// The messages a consumer has received and the application has not taken yet, from
/// all its topics, in arrival order; ``take()`` waits while it is empty.
///
/// Bounded by the flow permits the consumer grants, not here.
final class ReceiverQueue: Sendable {
    struct Delivery: Sendable {
        var message: Message
        /// Index of the topic consumer it came from.
        var source: Int
    }

    private struct State {
        var items = CircularBuffer<Delivery>()
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Delivery, any Error>)] = []
        var nextWaiter: UInt64 = 0
        var failure: PulsarClientError?
    }

    private let state = Mutex(State())

    var count: Int { self.state.withLock { $0.items.count } }

    /// Adds deliveries, handing them to waiting takers first.
    func push(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        var handed: [(CheckedContinuation<Delivery, any Error>, Delivery)] = []
        self.state.withLock { state in
            guard state.failure == nil else { return }
            var index = 0
            while index < deliveries.count, !state.waiters.isEmpty {
                handed.append((state.waiters.removeFirst().continuation, deliveries[index]))
                index += 1
            }
            if index < deliveries.count { state.items.append(contentsOf: deliveries[index...]) }
        }
        for (continuation, delivery) in handed { continuation.resume(returning: delivery) }
    }

    /// Removes the deliveries of topic consumer `source` (it resubscribed or sought).
    func removeAll(from source: Int) {
        self.state.withLock { state in
            state.items = CircularBuffer(state.items.filter { $0.source != source })
        }
    }

    /// The next delivery without waiting, if any.
    func poll() throws(PulsarClientError) -> Delivery? {
        let result: Result<Delivery?, PulsarClientError> = self.state.withLock { state in
            if let item = state.items.popFirst() { return .success(item) }
            if let failure = state.failure { return .failure(failure) }
            return .success(nil)
        }
        return try result.get()
    }

    /// The next delivery, waiting for one; throws once the queue failed and is empty,
    /// or when the task is cancelled.
    func take() async throws(PulsarClientError) -> Delivery {
        if let item = try self.poll() { return item }
        let id = self.state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Delivery, any Error>) in
                    let immediate: Result<Delivery, any Error>? = self.state.withLock { state in
                        if let item = state.items.popFirst() { return .success(item) }
                        if let failure = state.failure { return .failure(failure) }
                        if Task.isCancelled { return .failure(PulsarClientError(.cancelled, "receive was cancelled")) }
                        state.waiters.append((id, continuation))
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                let continuation = self.state.withLock { state -> CheckedContinuation<Delivery, any Error>? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index).continuation
                }
                continuation?.resume(throwing: PulsarClientError(.cancelled, "receive was cancelled"))
            }
        } catch {
            throw error as? PulsarClientError ?? PulsarClientError(.cancelled, "\(error)")
        }
    }

    /// Ends the queue: waiting and later takers get `error` once it is empty.
    func fail(_ error: PulsarClientError) {
        let waiters = self.state.withLock { state in
            state.failure = error
            state.items.removeAll()
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
