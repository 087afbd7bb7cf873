import NIOCore
/// When a producer's open batch must be sent: a pure value, fed messages and the time.
///
/// A batch is flushed when it holds ``BatchPolicy/maxMessages`` messages, when adding a
/// message would pass ``BatchPolicy/maxBytes`` (the message then opens the next batch),
/// or when its first message has waited ``BatchPolicy/maxDelay``. With batching off
/// every message is a batch of its own.
public struct BatchPolicy: Sendable, Hashable {
    public var enabled: Bool
    public var maxMessages: Int
    public var maxBytes: Int
    public var maxDelay: Duration

    /// Defaults, as Pulsar's clients: on, 1000 messages, 128 KiB, 10 ms.
    public init(enabled: Bool = true, maxMessages: Int = 1000, maxBytes: Int = 128 << 10, maxDelay: Duration = .milliseconds(10)) {
        self.enabled = enabled
        self.maxMessages = max(1, maxMessages)
        self.maxBytes = max(1, maxBytes)
        self.maxDelay = maxDelay
    }

    /// No batching: each message is sent on its own.
    public static let disabled = BatchPolicy(enabled: false, maxMessages: 1)
}

/// The messages of one open batch, with the decisions of ``BatchPolicy``.
///
/// Generic over what completes a message (a callback in the producer, a plain value in
/// tests) and over the clock's instant, so tests drive time by hand.
struct BatchBuilder<Completion, Instant: InstantProtocol<Duration>> {
    struct Entry {
        var message: OutgoingMessage
        var sequenceID: UInt64
        var completion: Completion
    }

    let policy: BatchPolicy
    private(set) var entries: [Entry] = []
    /// Payload bytes of the entries.
    private(set) var bytes = 0
    /// When the first entry was added.
    private(set) var openedAt: Instant?

    init(policy: BatchPolicy) {
        self.policy = policy
        self.entries.reserveCapacity(policy.enabled ? min(policy.maxMessages, 1024) : 1)
    }

    var isEmpty: Bool { self.entries.isEmpty }
    var count: Int { self.entries.count }

    /// Whether `message` must wait for the open batch to be flushed first (it would pass
    /// the byte limit of a batch that already has messages).
    func needsFlush(before message: OutgoingMessage) -> Bool {
        !self.entries.isEmpty && (!self.policy.enabled || self.bytes + message.payload.readableBytes > self.policy.maxBytes)
    }

    /// Adds a message; returns true when the batch is now full and must be flushed.
    mutating func add(_ message: OutgoingMessage, sequenceID: UInt64, completion: Completion, now: Instant) -> Bool {
        if self.entries.isEmpty { self.openedAt = now }
        self.entries.append(Entry(message: message, sequenceID: sequenceID, completion: completion))
        self.bytes += message.payload.readableBytes
        return !self.policy.enabled || self.entries.count >= self.policy.maxMessages || self.bytes >= self.policy.maxBytes
    }

    /// When the open batch is due by age; nil when empty.
    var deadline: Instant? { self.openedAt.map { $0.advanced(by: self.policy.maxDelay) } }

    /// Whether the open batch is due at `now`.
    func isDue(at now: Instant) -> Bool {
        guard let deadline = self.deadline else { return false }
        return now >= deadline
    }

    /// Takes the entries out, leaving the builder empty.
    mutating func take() -> [Entry] {
        defer {
            self.entries.removeAll(keepingCapacity: true)
            self.bytes = 0
            self.openedAt = nil
        }
        return self.entries
    }
}
