import Synchronization

/// Spaces out copying to a byte rate: ``pace(_:)`` sleeps the calling task while the bytes
/// counted so far are ahead of the rate. Shared by every copy of one process, so the rate
/// is the process's total.
public final class BytePacer: Sendable {
    private let bytesPerSecond: Double
    /// Bytes counted and when counting started (as an offset from `origin`).
    private let state: Mutex<(bytes: Int, started: Duration?)>
    private let origin: ContinuousClock.Instant

    /// Paces to `bytesPerSecond` (nil or ≤ 0: no limit). The wait itself is
    /// ``delay(total:adding:elapsed:bytesPerSecond:)``, testable without a clock.
    public init(bytesPerSecond: Int?) {
        self.bytesPerSecond = bytesPerSecond.map { Double(max(0, $0)) } ?? 0
        self.state = Mutex((0, nil))
        self.origin = .now
    }

    /// How long a caller that has just counted `bytes` must wait, when `elapsed` passed
    /// since counting started with `total` bytes counted before: the pure rule.
    public static func delay(total: Int, adding bytes: Int, elapsed: Duration, bytesPerSecond: Double) -> Duration {
        guard bytesPerSecond > 0 else { return .zero }
        let due = Duration.seconds(Double(total + bytes) / bytesPerSecond)
        return due > elapsed ? due - elapsed : .zero
    }

    /// Counts `bytes` and waits until the rate allows them.
    public func pace(_ bytes: Int) async throws {
        guard self.bytesPerSecond > 0 else { return }
        let now = ContinuousClock.now - self.origin
        let wait = self.state.withLock { state -> Duration in
            let started = state.started ?? now
            state.started = started
            let wait = Self.delay(total: state.bytes, adding: bytes, elapsed: now - started, bytesPerSecond: self.bytesPerSecond)
            state.bytes += bytes
            return wait
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
