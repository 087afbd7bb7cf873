/// When to ask the broker to redeliver: negatively acknowledged messages after their
/// delay, and (with an ack timeout) messages received but not acknowledged in time.
/// A pure value, fed the time; ids are tracked per entry, as the broker redelivers them.
public struct RedeliveryTracker<Instant: InstantProtocol<Duration>>: Sendable where Instant: Sendable {
    public let nackDelay: Duration
    public let ackTimeout: Duration?
    private var nacked: [MessageID: Instant] = [:]
    private var unacked: [MessageID: Instant] = [:]

    public init(nackDelay: Duration, ackTimeout: Duration?) {
        self.nackDelay = nackDelay
        self.ackTimeout = ackTimeout
    }

    public var isEmpty: Bool { self.nacked.isEmpty && self.unacked.isEmpty }

    /// The application took `id` at `now`.
    public mutating func received(_ id: MessageID, now: Instant) {
        guard let ackTimeout = self.ackTimeout else { return }
        let entry = id.entry
        if self.unacked[entry] == nil { self.unacked[entry] = now.advanced(by: ackTimeout) }
    }

    /// The entry of `id` needs no redelivery any more (acknowledged in full).
    public mutating func acknowledged(entry: MessageID) {
        self.unacked[entry] = nil
        self.nacked[entry] = nil
    }

    /// Everything up to and including `entry` is acknowledged.
    public mutating func acknowledgedCumulative(upTo entry: MessageID) {
        self.unacked = self.unacked.filter { $0.key > entry }
        self.nacked = self.nacked.filter { $0.key > entry }
    }

    /// The application negatively acknowledged `id` at `now`.
    public mutating func negativelyAcknowledged(_ id: MessageID, now: Instant) {
        let entry = id.entry
        self.unacked[entry] = nil
        if self.nacked[entry] == nil { self.nacked[entry] = now.advanced(by: self.nackDelay) }
    }

    /// The entries due for redelivery at `now`, sorted; they are no longer tracked.
    public mutating func due(now: Instant) -> [MessageID] {
        var due: [MessageID] = []
        for (entry, deadline) in self.nacked where deadline <= now { due.append(entry) }
        for (entry, deadline) in self.unacked where deadline <= now { due.append(entry) }
        for entry in due {
            self.nacked[entry] = nil
            self.unacked[entry] = nil
        }
        return Array(Set(due)).sorted()
    }

    /// Forgets everything (the broker redelivers all unacknowledged messages anyway).
    public mutating func reset() {
        self.nacked.removeAll()
        self.unacked.removeAll()
    }
}
