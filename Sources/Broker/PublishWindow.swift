import Synchronization

/// How much one connection has published that is not receipted yet, and whether its
/// reading is paused for it: past ``BrokerLimits/maxPendingPublishRequestsPerConnection``
/// SENDs, or while the broker as a whole holds ``PublishBuffer/limit`` bytes of SENDs
/// (`maxMessagePublishBufferSizeInMB`), the connection reads no more, so its client's
/// sends wait in its own queue instead of the broker's memory. Reading resumes once half
/// the SENDs are receipted and the broker is under half its buffer, or once the
/// connection has none left waiting. Counted from any thread without locks: a SEND is
/// admitted on the connection's loop, receipted on its topic's.
final class PublishWindow: Sendable {
    let maxPending: Int
    let buffer: PublishBuffer
    private let pending = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)

    init(maxPending: Int, buffer: PublishBuffer) {
        self.maxPending = max(1, maxPending)
        self.buffer = buffer
    }

    /// SENDs awaiting their receipt.
    var pendingCount: Int { self.pending.load(ordering: .relaxed) }
    var isPaused: Bool { self.paused.load(ordering: .relaxed) }

    /// A SEND of `bytes` was read; true when the connection is to stop reading now.
    func admitted(bytes: Int) -> Bool {
        let count = self.pending.wrappingAdd(1, ordering: .relaxed).newValue
        let total = self.buffer.add(bytes)
        guard count >= self.maxPending || total >= self.buffer.limit else { return false }
        return !self.paused.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// A SEND of `bytes` was receipted or refused; true when the connection is to read
    /// again now (exactly one caller hears it).
    func completed(bytes: Int) -> Bool {
        let count = self.pending.wrappingSubtract(1, ordering: .relaxed).newValue
        let total = self.buffer.subtract(bytes)
        guard self.paused.load(ordering: .relaxed) else { return false }
        guard count <= 0 || (count <= self.maxPending / 2 && total < self.buffer.limit / 2) else { return false }
        return self.paused.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged
    }
}

/// The bytes of SENDs a broker holds that are not receipted yet, over all connections.
final class PublishBuffer: Sendable {
    /// Bytes past which connections stop reading as they admit a SEND.
    let limit: Int
    private let bytes = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var total: Int { self.bytes.load(ordering: .relaxed) }

    func add(_ count: Int) -> Int { self.bytes.wrappingAdd(count, ordering: .relaxed).newValue }
    func subtract(_ count: Int) -> Int { self.bytes.wrappingSubtract(count, ordering: .relaxed).newValue }
}
