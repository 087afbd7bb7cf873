import Foundation
import Synchronization

/// Spaces out work to a byte rate: ``pace(_:)`` sleeps the calling thread as long as the
/// bytes so far are ahead of the rate.
final class RateLimiter: Sendable {
    private let bytesPerSecond: Double
    private let start = ContinuousClock.now
    private let total = Mutex(0)

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = Double(max(1, bytesPerSecond))
    }

    func pace(_ bytes: Int) {
        let done = self.total.withLock { total in
            total += bytes
            return total
        }
        let due = Duration.seconds(Double(done) / self.bytesPerSecond)
        let elapsed = ContinuousClock.now - self.start
        if elapsed < due {
            let wait = due - elapsed
            Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        }
    }
}
