import Synchronization

/// The loops a client runs on its own (reconnections, topic discovery). Each is kept
/// until it ends, can be cancelled by its owner, and is cancelled and awaited when the
/// client closes, so none outlives the client. A loop handles its own errors: it has no
/// caller to report them to, and it ends by retrying, or by failing what it works for
/// (a producer's pending sends, a consumer's receivers).
final class BackgroundWork: Sendable {
    /// A loop that was started; ``cancel()`` asks it to stop.
    struct Handle: Sendable {
        fileprivate let id: Int
        fileprivate let work: BackgroundWork

        func cancel() { self.work.cancel(self.id) }
    }

    private struct State {
        var closed = false
        var nextID = 0
        var tasks: [Int: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Starts `body`; nil once the client is closing (nothing is started then).
    @discardableResult
    func start(_ body: @escaping @Sendable () async -> Void) -> Handle? {
        self.state.withLock { state -> Handle? in
            guard !state.closed else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.tasks[id] = Task {
                await body()
                self.finished(id)
            }
            return Handle(id: id, work: self)
        }
    }

    private func finished(_ id: Int) {
        _ = self.state.withLock { $0.tasks.removeValue(forKey: id) }
    }

    private func cancel(_ id: Int) {
        self.state.withLock { $0.tasks[id] }?.cancel()
    }

    /// Refuses new loops and cancels the running ones.
    func cancelAll() {
        let tasks = self.state.withLock { state in
            state.closed = true
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }

    /// Waits until every loop has ended (after ``cancelAll()``).
    func waitForAll() async {
        while true {
            let tasks = self.state.withLock { Array($0.tasks.values) }
            guard !tasks.isEmpty else { return }
            for task in tasks { await task.value }
        }
    }
}
