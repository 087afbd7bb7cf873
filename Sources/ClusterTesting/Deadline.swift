/// Runs `body` for at most `limit`: past it, `body` is cancelled and a ``TestHarnessError``
/// naming `what` is thrown, so a test that would hang fails with a clear message instead.
public func withDeadline<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestHarnessError("\(what) had not finished after \(limit)")
        }
        return value
    }
}

/// Polls `condition` every 20 ms until it holds; returns false if it still does not hold
/// after `timeout`.
public func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
}
