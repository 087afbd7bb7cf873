import NIOCore

/// The clock the ledger client's timers run on: the writer's explicit-LAC delay and
/// ensemble-change retries, speculative reads, and recovery's grace for slow bookies.
///
/// By default these are event-loop tasks and `Task.sleep` on the continuous clock, called
/// directly; a clock given to ``LedgerClient`` (a manual clock in a test) replaces them.
/// Either way a timer costs no existential call unless a clock was given.
struct LedgerClock: Sendable {
    private let custom: (any Clock<Duration>)?

    init(_ custom: (any Clock<Duration>)?) {
        self.custom = custom
    }

    /// Sleeps for `duration`; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws {
        if let custom {
            try await custom.sleep(for: duration)
        } else {
            try await Task.sleep(for: duration)
        }
    }

    /// Runs `body` on `eventLoop` once `delay` has passed.
    func schedule(in delay: Duration, on eventLoop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        guard let custom else {
            eventLoop.scheduleTask(in: .nanoseconds(delay.nanoseconds), body)
            return
        }
        Task {
            try? await custom.sleep(for: delay)
            eventLoop.execute(body)
        }
    }
}
