import Foundation

/// Blocks the threads that call ``hold()`` until ``open()``. A test freezes an event loop
/// with it (by calling `hold()` on that loop), as SIGKILL or SIGSTOP stops a broker:
/// nothing more leaves the loop and nothing it receives is handled, while the test process
/// goes on. Open it before shutting the loop down.
///
/// `@unchecked Sendable`: every stored property is guarded by `condition`.
public final class ThreadGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false
    private var held = 0

    public init() {}

    /// Blocks the calling thread until the gate opens (returns at once if it is open).
    public func hold() {
        self.condition.lock()
        defer { self.condition.unlock() }
        self.held += 1
        while !self.isOpen { self.condition.wait() }
        self.held -= 1
    }

    /// Whether a thread is blocked in ``hold()`` now.
    public var isHolding: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.held > 0
    }

    /// Waits (polling) until a thread is blocked in ``hold()``; throws after `timeout`.
    public func waitUntilHolding(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !self.isHolding {
            guard ContinuousClock.now < deadline else { throw TestHarnessError("no thread reached the gate within \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Lets every held thread go on, and every later ``hold()`` return at once.
    public func open() {
        self.condition.lock()
        self.isOpen = true
        self.condition.broadcast()
        self.condition.unlock()
    }
}
