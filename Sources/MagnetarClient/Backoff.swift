/// The delays between reconnection attempts: exponential from ``initial`` up to
/// ``maximum``, each reduced by up to ``jitter`` of itself so that many clients do not
/// retry in step. A value: ``next(random:)`` takes the random fraction, so tests
/// choose it.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Double
    /// The largest fraction of a delay removed at random (0 keeps delays exact).
    public var jitter: Double
    private var current: Duration?

    /// Defaults: 100 ms doubling up to 30 s, with 10% jitter.
    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(30), multiplier: Double = 2, jitter: Double = 0.1) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 1)
    }

    /// The delay before the next attempt; `random` is a fraction in `0..<1`.
    public mutating func next(random: Double) -> Duration {
        let delay = self.current.map { min(self.maximum, $0 * self.multiplier) } ?? self.initial
        self.current = delay
        return delay - delay * (self.jitter * min(max(random, 0), 1))
    }

    /// The delay before the next attempt, with a random jitter.
    public mutating func next() -> Duration {
        self.next(random: Double.random(in: 0..<1))
    }

    /// Starts over from ``initial`` (after a successful attempt).
    public mutating func reset() {
        self.current = nil
    }
}
