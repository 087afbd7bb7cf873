/// A first-come, first-served lock for async code: serializes the read-modify-CAS cycles
/// on one metadata key, which may not overlap. It belongs to one actor and is used only
/// in that actor's isolation, so its own state needs no lock.
final class AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    nonisolated(nonsending) func lock() async {
        guard self.locked else {
            self.locked = true
            return
        }
        await withCheckedContinuation { self.waiters.append($0) }
    }

    /// Hands the lock to the next waiter, if any.
    func unlock() {
        if self.waiters.isEmpty {
            self.locked = false
        } else {
            self.waiters.removeFirst().resume()
        }
    }
}
