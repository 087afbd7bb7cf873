import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// A consumer on one connection: its permits and what it was sent but has not acked.
final class Consumer: DispatchTarget, Sendable {
    let consumerID: UInt64
    let name: String
    let priorityLevel: Int32
    /// The partition of the topic, or -1; set in every MESSAGE.
    let partition: Int32
    private let channel: any Channel
    private let state = Mutex(State())

    private struct State {
        var permits = 0
        /// Sent and not acked, with the messages each counted against permits.
        var unacked: [Position: Int] = [:]
        /// Once closed, nothing more is sent.
        var closed = false
    }

    init(consumerID: UInt64, name: String, priorityLevel: Int32 = 0, partition: Int32 = -1, channel: any Channel) {
        self.consumerID = consumerID
        self.name = name
        self.priorityLevel = priorityLevel
        self.partition = partition
        self.channel = channel
    }

    var permits: Int { self.state.withLock { $0.closed ? 0 : $0.permits } }

    var unackedCount: Int { self.state.withLock { $0.unacked.count } }

    func addPermits(_ count: Int) {
        self.state.withLock { $0.permits += count }
    }

    /// Sends one stored entry as a MESSAGE, counting `messages` against the permits.
    /// `ackSet` marks, for a batch acked in part, the messages still to deliver. Returns
    /// false, sending nothing, once the consumer is closed.
    func send(_ position: Position, entry: ByteBuffer, messages: Int, redeliveryCount: UInt32, ackSet: [Int64]? = nil) -> Bool {
        var message = Pulsar_Proto_CommandMessage()
        message.consumerID = self.consumerID
        message.messageID.ledgerID = UInt64(bitPattern: position.ledgerID)
        message.messageID.entryID = UInt64(bitPattern: position.entryID)
        message.messageID.partition = self.partition
        if redeliveryCount > 0 { message.redeliveryCount = redeliveryCount }
        if let ackSet { message.ackSet = ackSet }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .message
        command.message = message
        var stored = entry
        guard let (_, checksum) = stored.readMultipleIntegers(as: (UInt16, UInt32).self) else { return true }
        var frame = self.channel.allocator.buffer(capacity: stored.readableBytes + 64)
        do {
            try PulsarFrame.write(command: command, metadataAndPayload: stored, checksum: checksum, into: &frame)
        } catch {
            return true
        }
        let open = self.state.withLock { state in
            guard !state.closed else { return false }
            state.permits -= messages
            state.unacked[position] = messages
            return true
        }
        guard open else { return false }
        self.channel.writeAndFlush(frame, promise: nil)
        return true
    }

    /// Tells the client whether this consumer is now the active one of its Failover
    /// subscription.
    func notifyActive(_ active: Bool) {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .activeConsumerChange
        command.activeConsumerChange.consumerID = self.consumerID
        command.activeConsumerChange.isActive = active
        var frame = self.channel.allocator.buffer(capacity: 32)
        guard (try? PulsarFrame.write(command: command, into: &frame)) != nil else { return }
        self.channel.writeAndFlush(frame, promise: nil)
    }

    /// Forgets acked positions.
    func acked(_ positions: [Position]) {
        self.state.withLock { state in
            for position in positions { state.unacked[position] = nil }
        }
    }

    /// Forgets everything at or before `position`.
    func ackedThrough(_ position: Position) {
        self.state.withLock { state in state.unacked = state.unacked.filter { $0.key > position } }
    }

    /// Takes the unacked positions (for redelivery).
    func takeUnacked() -> [Position] {
        self.state.withLock { state in
            defer { state.unacked.removeAll() }
            return state.unacked.keys.sorted()
        }
    }

    /// Closes the consumer and takes what it had not acked.
    func close() -> [Position] {
        self.state.withLock { state in
            state.closed = true
            defer { state.unacked.removeAll() }
            return state.unacked.keys.sorted()
        }
    }
}

/// One acknowledged message id: a whole entry, or some messages of a batch.
struct AckedMessage: Hashable, Sendable {
    var position: Position
    /// Pulsar's ack_set: set bits are the messages of the batch *not* acknowledged. Empty
    /// or all clear: the whole entry.
    var ackSet: [Int64] = []

    var wholeEntry: Bool { self.ackSet.allSatisfy { $0 == 0 } }
}

/// A named subscription: a cursor and the consumers it dispatches to.
///
/// Which consumer gets an entry is ``ConsumerSet``'s rule for the subscription type.
/// Dispatch reads from the cursor's read position and, when caught up, waits for the
/// next entry. Redeliveries (negative acks, consumers that left) go first.
final class Subscription: Sendable {
    let name: String
    /// False for a reader's subscription, which goes with its last consumer.
    let durable: Bool
    let cursor: ManagedCursor
    let ledger: ManagedLedger
    private let state: Mutex<State>

    private struct State {
        var consumers: ConsumerSet<Consumer>
        var dispatching = false
        /// Positions to send again before reading on, with their redelivery counts.
        var redeliver: [Position] = []
        var redeliveryCounts: [Position: UInt32] = [:]

        mutating func scheduleRedelivery(_ positions: [Position], skipping cursor: ManagedCursor) {
            for position in positions where !cursor.isAcked(position) && !self.redeliver.contains(position) {
                self.redeliver.append(position)
                self.redeliveryCounts[position, default: 0] += 1
            }
            self.redeliver.sort()
        }
    }

    init(
        name: String, type: Pulsar_Proto_CommandSubscribe.SubType, partition: Int, durable: Bool, cursor: ManagedCursor,
        ledger: ManagedLedger
    ) {
        self.name = name
        self.durable = durable
        self.cursor = cursor
        self.ledger = ledger
        self.state = Mutex(State(consumers: ConsumerSet(type: type, partition: partition)))
    }

    /// Adds a consumer. In a Failover subscription, what a consumer that stops being
    /// active had not acked goes to the new active one; call ``announceActiveConsumer()``
    /// once the client knows the consumer exists.
    func add(_ consumer: Consumer, type: Pulsar_Proto_CommandSubscribe.SubType) throws(BrokerError) {
        try self.state.withLock { (state: inout State) throws(BrokerError) in
            let before = state.consumers.active
            try state.consumers.add(consumer, type: type, subscription: self.name)
            self.handOver(&state, activeBefore: before)
        }
        self.dispatch()
    }

    /// Removes a consumer; what it had not acked goes to the others. In a Failover
    /// subscription the others hear which one is now active.
    func remove(_ consumer: Consumer) {
        let unacked = consumer.close()
        let removed = self.state.withLock { state -> Bool in
            let before = state.consumers.active
            guard state.consumers.remove(consumer) else { return false }
            state.scheduleRedelivery(unacked, skipping: self.cursor)
            self.handOver(&state, activeBefore: before === consumer ? nil : before)
            return true
        }
        if removed { self.announceActiveConsumer() }
        self.dispatch()
    }

    /// Failover: when the active consumer changed, the old one's unacked messages are
    /// scheduled for the new one.
    private func handOver(_ state: inout State, activeBefore: Consumer?) {
        guard state.consumers.type == .failover, let activeBefore, activeBefore !== state.consumers.active else { return }
        state.scheduleRedelivery(activeBefore.takeUnacked(), skipping: self.cursor)
    }

    /// Failover: tells every consumer whether it is the active one (ACTIVE_CONSUMER_CHANGE).
    func announceActiveConsumer() {
        let notices = self.state.withLock { state -> [(Consumer, Bool)] in
            guard state.consumers.type == .failover else { return [] }
            let active = state.consumers.active
            return state.consumers.consumers.map { ($0, $0 === active) }
        }
        for (consumer, active) in notices { consumer.notifyActive(active) }
    }

    func onlyConsumer(is consumer: Consumer) -> Bool {
        self.state.withLock { $0.consumers.consumers.count == 1 && $0.consumers.consumers[0] === consumer }
    }

    var isEmpty: Bool { self.state.withLock { $0.consumers.isEmpty } }

    var type: Pulsar_Proto_CommandSubscribe.SubType { self.state.withLock { $0.consumers.type } }

    /// Removes every consumer (a seek does, so that clients subscribe again from the new
    /// position) and returns them; nothing is redelivered.
    func removeAll() -> [Consumer] {
        let removed = self.state.withLock { state in
            defer {
                state.redeliver.removeAll()
                state.redeliveryCounts.removeAll()
            }
            return state.consumers.removeAll()
        }
        for consumer in removed { _ = consumer.close() }
        return removed
    }

    func flow(_ consumer: Consumer, permits: Int) {
        consumer.addPermits(permits)
        self.dispatch()
    }

    /// Applies an ACK. Individual acks of batch indexes count the entry acked once no
    /// message of it is left; a cumulative ack on a batch acked in part acks through the
    /// entry before it and the given messages of that batch.
    func ack(_ messages: [AckedMessage], cumulative: Bool, from consumer: Consumer) {
        if cumulative {
            guard let last = messages.max(by: { $0.position < $1.position }) else { return }
            if last.wholeEntry {
                self.cursor.ackCumulative(last.position)
                consumer.ackedThrough(last.position)
            } else {
                self.cursor.ackCumulative(last.position.previousInLedger)
                consumer.ackedThrough(last.position.previousInLedger)
                if self.cursor.ack(last.position, batchIndexes: last.ackSet) { consumer.acked([last.position]) }
            }
            return
        }
        var done: [Position] = []
        for message in messages {
            if message.wholeEntry {
                self.cursor.ack(message.position)
                done.append(message.position)
            } else if self.cursor.ack(message.position, batchIndexes: message.ackSet) {
                done.append(message.position)
            }
        }
        consumer.acked(done)
    }

    /// Sends again what `consumer` has not acked (all of it when `positions` is empty).
    func redeliver(_ consumer: Consumer, positions: [Position]) {
        let taken = consumer.takeUnacked()
        let chosen = positions.isEmpty ? taken : positions
        self.state.withLock { state in state.scheduleRedelivery(chosen, skipping: self.cursor) }
        self.dispatch()
    }

    /// Starts a dispatch pass unless one is running.
    func dispatch() {
        let start = self.state.withLock { state -> Bool in
            guard !state.dispatching, !state.consumers.isEmpty else { return false }
            state.dispatching = true
            return true
        }
        guard start else { return }
        Task { await self.dispatchLoop() }
    }

    private func dispatchLoop() async {
        while true {
            let step = self.state.withLock { state -> (Consumer, redelivery: (Position, UInt32)?, keyShared: Bool)? in
                guard let consumer = state.consumers.nextConsumer() else { return nil }
                guard !state.redeliver.isEmpty else { return (consumer, nil, state.consumers.type == .keyShared) }
                let position = state.redeliver.removeFirst()
                return (consumer, (position, state.redeliveryCounts[position] ?? 1), state.consumers.type == .keyShared)
            }
            guard let (consumer, redelivery, keyShared) = step else { break }
            do {
                if let (position, count) = redelivery {
                    guard let (_, entry) = try await self.ledger.read(from: position, count: 1).first else { continue }
                    let target = keyShared ? self.owner(of: entry) ?? consumer : consumer
                    if !self.deliver(position, entry, to: target, redeliveryCount: count) {
                        self.state.withLock { $0.scheduleRedelivery([position], skipping: self.cursor) }
                    }
                    continue
                }
                let position = self.cursor.readPosition
                let entries = try await self.ledger.read(from: position, count: max(1, min(100, consumer.permits)))
                if entries.isEmpty {
                    // Caught up: wait for the next entry, then go on.
                    self.state.withLock { $0.dispatching = false }
                    let last = self.ledger.lastConfirmed
                    if await self.ledger.waitForEntries(after: last, timeout: .seconds(5)) { self.dispatch() } else if !self.isEmpty { self.dispatch() }
                    return
                }
                var sent = false
                for (entryPosition, entry) in entries {
                    let target: Consumer?
                    if keyShared {
                        // Every entry of a key goes to the same consumer; wait for its permits.
                        target = self.owner(of: entry).flatMap { $0.permits > 0 ? $0 : nil }
                    } else {
                        target = entryPosition == entries[0].0 ? consumer : self.state.withLock { $0.consumers.nextConsumer() }
                    }
                    guard let target, self.deliver(entryPosition, entry, to: target, redeliveryCount: 0) else { break }
                    self.cursor.readPosition = self.ledger.next(after: entryPosition)
                    sent = true
                }
                if !sent { break }  // The next entry's consumer has no permits: its FLOW resumes dispatch.
            } catch {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        self.state.withLock { $0.dispatching = false }
    }

    /// Sends an entry, with the batch messages already acked masked out; false when the
    /// consumer closed meanwhile.
    private func deliver(_ position: Position, _ entry: ByteBuffer, to consumer: Consumer, redeliveryCount: UInt32) -> Bool {
        consumer.send(
            position, entry: entry, messages: Self.messageCount(entry), redeliveryCount: redeliveryCount,
            ackSet: self.cursor.unackedBatchIndexes(of: position)
        )
    }

    /// Key_Shared: the consumer that owns the entry's key.
    private func owner(of entry: ByteBuffer) -> Consumer? {
        let key = Self.key(of: entry)
        return self.state.withLock { $0.consumers.owner(ofKey: key) }
    }

    /// The ordering or partition key of a stored entry ("" when none).
    static func key(of entry: ByteBuffer) -> String {
        guard let payload = try? PulsarPayload(parsing: entry) else { return "" }
        if payload.metadata.hasOrderingKey { return String(decoding: payload.metadata.orderingKey, as: UTF8.self) }
        return payload.metadata.partitionKey
    }

    /// Messages in a stored entry: its batch size, or 1.
    static func messageCount(_ entry: ByteBuffer) -> Int {
        guard let payload = try? PulsarPayload(parsing: entry), payload.metadata.hasNumMessagesInBatch else { return 1 }
        return max(1, Int(payload.metadata.numMessagesInBatch))
    }
}
