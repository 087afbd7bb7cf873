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

    /// Permits dispatch may use now: none while its client's socket is full.
    var permits: Int { self.isClosed || !self.sink.isReady ? 0 : self.credit }

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
        self.unacked[position] = messages
        self.sink.deliver(self, position, entry: entry, redeliveryCount: redeliveryCount, ackSet: ackSet)
        return true
    }

    /// Marks the consumer told that its topic ended; true the first time.
    func markToldEnd() -> Bool {
        defer { self.toldEnd = true }
        return !self.toldEnd
    }

    /// Forgets acked positions.
    func acked(_ positions: [Position]) {
        for position in positions { self.unacked[position] = nil }
    }

    /// Forgets everything at or before `position`.
    func ackedThrough(_ position: Position) {
        self.unacked = self.unacked.filter { $0.key > position }
    }

    /// Takes the unacked positions (for redelivery).
    func takeUnacked() -> [Position] {
        defer { self.unacked.removeAll() }
        return self.unacked.keys.sorted()
    }

    /// Takes those of `positions` that are unacked here (for redelivery); the others it
    /// holds stay.
    func takeUnacked(_ positions: [Position]) -> [Position] {
        positions.filter { self.unacked.removeValue(forKey: $0) != nil }
    }

    /// Closes the consumer and takes what it had not acked.
    func close() -> [Position] {
        self.closedFlag.store(true, ordering: .releasing)
        return self.takeUnacked()
    }
}
