import Foundation
import ManagedLedger
import NIOCore
import Synchronization

/// A consumer of a subscription: its permits and what it was sent but has not acked.
///
/// Confined to its topic's event loop, like the subscription it belongs to: its state is
/// touched there only (``isClosed`` may be read anywhere). Messages go out through its
/// ``ConsumerSink``.
final class Consumer: DispatchTarget, @unchecked Sendable {
    let consumerID: UInt64
    let name: String
    let priorityLevel: Int32
    let subscription: Subscription
    let sink: any ConsumerSink
    private var credit = 0
    /// Sent and not acked, with the messages each counted against permits.
    private var unacked: [Position: Int] = [:]
    /// The messages of ``unacked``.
    private(set) var unackedMessages = 0
    /// Whether dispatch skips it for holding too many unacknowledged messages.
    private(set) var blockedOnUnacked = false
    /// Whether REACHED_END_OF_TOPIC was sent.
    private var toldEnd = false
    private let closedFlag = Atomic<Bool>(false)
    /// What was delivered to it, for stats.
    let counters = TrafficCounters()
    let connectedSince = Date()

    init(consumerID: UInt64, name: String, priorityLevel: Int32 = 0, subscription: Subscription, sink: any ConsumerSink) {
        self.consumerID = consumerID
        self.name = name
        self.priorityLevel = priorityLevel
        self.subscription = subscription
        self.sink = sink
    }

    var topic: Topic? { self.subscription.topic }

    /// Permits dispatch may use now: none while its client's socket is full, or while it
    /// or its subscription hold as many unacknowledged messages as their limits allow.
    var permits: Int {
        self.isClosed || self.blockedOnUnacked || self.subscription.blockedOnUnacked || !self.sink.isReady ? 0 : self.credit
    }

    /// The permits its client granted and it has not used, as CONSUMER_STATS reports them.
    var availablePermits: Int { self.isClosed ? 0 : self.credit }

    var unackedCount: Int { self.unacked.count }

    /// Once closed, nothing more is sent and its acks are ignored.
    var isClosed: Bool { self.closedFlag.load(ordering: .acquiring) }

    /// Adds FLOW permits; the credit stops at ``maxCredit`` however many a client sends.
    func addPermits(_ count: Int) {
        self.credit = min(Self.maxCredit, self.credit + min(max(0, count), Self.maxCredit))
    }

    /// The most permits a consumer holds at once: Pulsar's clients never grant more than
    /// their receiver queue, far below this.
    static let maxCredit = Int(Int32.max)

    /// Sends one stored entry, counting `messages` against the permits. Returns false,
    /// sending nothing, once the consumer is closed.
    func send(_ position: Position, entry: ByteBuffer, messages: Int, redeliveryCount: UInt32, ackSet: [Int64]? = nil) -> Bool {
        guard !self.isClosed else { return false }
        self.credit -= messages
        self.unackedChanged(by: messages - (self.unacked.updateValue(messages, forKey: position) ?? 0))
        self.sink.deliver(self, position, entry: entry, redeliveryCount: redeliveryCount, ackSet: ackSet)
        return true
    }

    /// Counts the unacknowledged messages again and blocks or unblocks it against
    /// `maxUnackedMessagesPerConsumer`: blocked at the limit, unblocked at half of it, as
    /// in Pulsar (Shared and Key_Shared subscriptions only).
    private func unackedChanged(by delta: Int) {
        guard delta != 0 else { return }
        self.unackedMessages += delta
        self.subscription.unackedChanged(by: delta)
        // As in Pulsar, only Shared and Key_Shared consumers are held to it: Exclusive and
        // Failover ones acknowledge cumulatively, and readers not at all.
        let limit = self.subscription.sharesMessages ? self.subscription.limits.unackedPerConsumer : 0
        guard limit > 0 else { return }
        if self.unackedMessages >= limit {
            self.blockedOnUnacked = true
        } else if self.blockedOnUnacked, self.unackedMessages <= limit / 2 {
            self.blockedOnUnacked = false
            self.subscription.dispatch()
        }
    }

    /// Marks the consumer told that its topic ended; true the first time.
    func markToldEnd() -> Bool {
        defer { self.toldEnd = true }
        return !self.toldEnd
    }

    /// Forgets acked positions.
    func acked(_ positions: [Position]) {
        for position in positions {
            if let messages = self.unacked.removeValue(forKey: position) { self.unackedChanged(by: -messages) }
        }
    }

    /// Forgets everything at or before `position`.
    func ackedThrough(_ position: Position) {
        var released = 0
        self.unacked = self.unacked.filter { entry in
            if entry.key > position { return true }
            released += entry.value
            return false
        }
        self.unackedChanged(by: -released)
    }

    /// Takes the unacked positions (for redelivery).
    func takeUnacked() -> [Position] {
        defer {
            self.unacked.removeAll()
            self.unackedChanged(by: -self.unackedMessages)
        }
        return self.unacked.keys.sorted()
    }

    /// Takes those of `positions` that are unacked here (for redelivery); the others it
    /// holds stay.
    func takeUnacked(_ positions: [Position]) -> [Position] {
        positions.filter { position in
            guard let messages = self.unacked.removeValue(forKey: position) else { return false }
            self.unackedChanged(by: -messages)
            return true
        }
    }

    /// Closes the consumer and takes what it had not acked.
    func close() -> [Position] {
        self.closedFlag.store(true, ordering: .releasing)
        return self.takeUnacked()
    }
}
