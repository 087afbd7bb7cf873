/// A consumer's flow control as a value: how many permits to ask for and when.
///
/// The first FLOW grants the whole receiver queue. After that, each message the
/// application takes frees a slot; once half the queue is free the freed slots are
/// granted in one FLOW, so the broker keeps the queue full without a FLOW per message.
public struct FlowPermits: Sendable, Hashable {
    public let queueSize: Int
    private var freed = 0

    public init(queueSize: Int) {
        self.queueSize = max(1, queueSize)
    }

    /// The permits of the first FLOW on a (re)subscribed consumer; resets what was freed.
    public mutating func initial() -> Int {
        self.freed = 0
        return self.queueSize
    }

    /// A message was taken by the application; returns the permits to send now, if any.
    public mutating func taken(_ count: Int = 1) -> Int? {
        self.freed += count
        guard self.freed >= max(1, self.queueSize / 2) else { return nil }
        defer { self.freed = 0 }
        return self.freed
    }
}
