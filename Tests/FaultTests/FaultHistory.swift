import Foundation
import Synchronization

/// What happened during a run, each line stamped with the time since the start; printed
/// as it happens and again in full at the end.
final class FaultHistory: Sendable {
    private let start = ContinuousClock.now
    private let lines = Mutex<[String]>([])
    private let echo: Bool

    init(echo: Bool = true) { self.echo = echo }

    var elapsed: Duration { ContinuousClock.now - self.start }

    func record(_ event: String) {
        let milliseconds = Nemesis.milliseconds(self.elapsed)
        let line = String(format: "%8.3fs  ", Double(milliseconds) / 1000) + event
        self.lines.withLock { $0.append(line) }
        if self.echo {
            print(line)
            fflush(nil)
        }
    }

    var text: String { self.lines.withLock { $0.joined(separator: "\n") } }
}
