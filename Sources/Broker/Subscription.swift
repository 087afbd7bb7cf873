import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

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
///
/// Confined to its topic's event loop: every method is called there (the connection
/// hops with ``Topic/onLoop(_:)``) and the dispatch pass runs isolated to the topic, so
/// its state needs no lock.
final class Subscription: @unchecked Sendable {
    let name: String
    /// False for a reader's subscription, which goes with its last consumer.
    let durable: Bool
    let cursor: ManagedCursor
    let ledger: ManagedLedger
    /// The partition of the topic, or -1; set in every message's id.
    let partition: Int
    private(set) weak var topic: Topic?
    /// What was delivered, for stats.
    let counters = TrafficCounters()
    /// Messages acknowledged by expiry (message TTL, expire-messages), for stats.
    var expiredMessages = 0
    /// Pulsar's limits on the topic, as its policies set them.
    var limits: TopicPolicies.Limits { self.topic?.assumeIsolated { $0.policies.limits } ?? .init() }
    /// Messages delivered to its consumers and not acknowledged.
    var unackedMessages = 0
    /// Whether dispatch stops for holding `maxUnackedMessagesPerSubscription` of them;
    /// it goes on at half.
    var blockedOnUnacked = false
    private var consumers: ConsumerSet<Consumer>
    private var dispatching = false
    /// How long dispatch waits, on its topic's clock, before reading again after a read failed.
    static var retryDelay: Duration { .milliseconds(200) }
    /// Counts resets (seeks): a read started before one brings back entries from before
    /// it, which are dropped.
    private var epoch = 0
    /// Positions to send again before reading on, with their redelivery counts.
    private var redeliveries: [Position] = []
    private var redeliveryCounts: [Position: UInt32] = [:]
    /// The next batch, already being read while the current one is sent, for consumers
    /// catching up from bookies.
    private var readAhead: (from: Position, read: Task<[(Position, ByteBuffer)], any Error>)?
    /// Messages held until their delivery time (Shared and Key_Shared only).
    var delayed: DelayedDeliveryIndex
    /// The pending release of held messages, and when it fires (milliseconds since 1970).
    var delayedRelease: (at: Int64, task: Scheduled<Void>)?

    init(
        name: String, type: Pulsar_Proto_CommandSubscribe.SubType, partition: Int, durable: Bool, cursor: ManagedCursor,
        topic: Topic
    ) {
        self.name = name
        self.durable = durable
        self.cursor = cursor
        self.ledger = topic.ledger
        self.partition = partition
        self.topic = topic
        self.consumers = ConsumerSet(type: type, partition: partition)
        self.delayed = DelayedDeliveryIndex(capacity: topic.delayedDeliveryCapacity)
    }

    /// Whether messages with a delivery time wait for it: on Shared and Key_Shared
    /// subscriptions, as in Pulsar; Exclusive and Failover deliver at once.
    var holdsDelayedMessages: Bool { self.sharesMessages }

    /// Whether its consumers share its messages (Shared, Key_Shared): only those are held
    /// to the unacknowledged-message limits, as in Pulsar.
    var sharesMessages: Bool { self.consumers.type == .shared || self.consumers.type == .keyShared }

    var isEmpty: Bool { self.consumers.isEmpty }

    /// The consumers attached now.
    var attached: [Consumer] { self.consumers.consumers }

    var type: Pulsar_Proto_CommandSubscribe.SubType { self.consumers.type }

    func onlyConsumer(is consumer: Consumer) -> Bool {
        self.consumers.consumers.count == 1 && self.consumers.consumers[0] === consumer
    }

    /// Adds a consumer. In a Failover subscription, what a consumer that stops being
    /// active had not acked goes to the new active one; call ``announceActiveConsumer()``
    /// once the client knows the consumer exists.
    func add(_ consumer: Consumer, type: Pulsar_Proto_CommandSubscribe.SubType) throws(BrokerError) {
        let before = self.consumers.active
        try self.consumers.add(consumer, type: type, subscription: self.name)
        self.handOver(activeBefore: before)
        self.dispatch()
    }

    /// Removes a consumer; what it had not acked goes to the others. In a Failover
    /// subscription the others hear which one is now active.
    func remove(_ consumer: Consumer) {
        let unacked = consumer.close()
        let before = self.consumers.active
        guard self.consumers.remove(consumer) else { return }
        self.scheduleRedelivery(unacked)
        self.handOver(activeBefore: before === consumer ? nil : before)
        self.announceActiveConsumer()
        self.dispatch()
    }

    /// Failover: when the active consumer changed, the old one's unacked messages are
    /// scheduled for the new one.
    private func handOver(activeBefore: Consumer?) {
        guard self.consumers.type == .failover, let activeBefore, activeBefore !== self.consumers.active else { return }
        self.scheduleRedelivery(activeBefore.takeUnacked())
    }

    /// Failover: tells every consumer whether it is the active one (ACTIVE_CONSUMER_CHANGE).
    func announceActiveConsumer() {
        guard self.consumers.type == .failover else { return }
        let active = self.consumers.active
        for consumer in self.consumers.consumers {
            consumer.sink.activeChanged(consumer, active: consumer === active)
            consumer.sink.flush()
        }
    }

    /// Removes every consumer (a seek does, so that clients subscribe again from the new
    /// position) and returns them; nothing is redelivered.
    func removeAll() -> [Consumer] {
        self.epoch += 1
        self.redeliveries.removeAll()
        self.redeliveryCounts.removeAll()
        self.dropDelayed()
        let removed = self.consumers.removeAll()
        for consumer in removed { _ = consumer.close() }
        return removed
    }

    func flow(_ consumer: Consumer, permits: Int) {
        consumer.addPermits(permits)
        self.dispatch()
    }

    /// Applies an ACK, or refuses it and changes nothing: a cumulative ack on a Shared or
    /// Key_Shared subscription, and an ack of a position past the last published entry
    /// (it would skip messages not published yet), return why. Individual acks of batch
    /// indexes count the entry acked once no message of it is left; a cumulative ack on a
    /// batch acked in part acks through the entry before it and the given messages of that
    /// batch. An ack from a consumer already closed is ignored.
    func ack(_ messages: [AckedMessage], cumulative: Bool, from consumer: Consumer) -> BrokerError? {
        // Closed by a seek, its client subscribes again: an ack sent before it heard must
        // not mark anything on the cursor reset since.
        guard !consumer.isClosed else { return nil }
        let type = self.consumers.type
        if cumulative, type == .shared || type == .keyShared {
            return BrokerError(.notAllowed, "cumulative acks are not allowed on \(ConsumerSet<Consumer>.describe(type)) subscription \(self.name)")
        }
        return self.cursor.assumeIsolated { cursor in
            if let beyond = messages.first(where: { !cursor.isWritten($0.position) }) {
                return BrokerError(.notAllowed, "ack of \(beyond.position) on \(self.name) is past the last published message")
            }
            self.ack(messages, cumulative: cumulative, from: consumer, cursor)
            return nil
        }
    }

    private func ack(_ messages: [AckedMessage], cumulative: Bool, from consumer: Consumer, _ cursor: isolated ManagedCursor) {
        if cumulative {
            guard let last = messages.max(by: { $0.position < $1.position }) else { return }
            let through = last.wholeEntry ? last.position : last.position.previousInLedger
            cursor.ackCumulative(through)
            consumer.ackedThrough(through)
            if !self.redeliveryCounts.isEmpty { self.redeliveryCounts = self.redeliveryCounts.filter { $0.key > through } }
            if !last.wholeEntry, cursor.ack(last.position, batchIndexes: last.ackSet) {
                consumer.acked([last.position])
                self.redeliveryCounts[last.position] = nil
            }
            return
        }
        var done: [Position] = []
        for message in messages {
            if message.wholeEntry {
                cursor.ack(message.position)
                done.append(message.position)
            } else if cursor.ack(message.position, batchIndexes: message.ackSet) {
                done.append(message.position)
            }
        }
        consumer.acked(done)
        if !self.redeliveryCounts.isEmpty { for position in done { self.redeliveryCounts[position] = nil } }
    }

    /// Sends again what `consumer` has not acked: all of it when `positions` is empty, else
    /// those of `positions` it holds. What it holds and did not name stays its own, to be
    /// acked, or redelivered when it leaves.
    func redeliver(_ consumer: Consumer, positions: [Position]) {
        self.scheduleRedelivery(positions.isEmpty ? consumer.takeUnacked() : consumer.takeUnacked(positions))
        self.dispatch()
    }

    /// Queues positions to be sent before reading on; `counting` adds one to each one's
    /// redelivery count (not for held messages whose time came).
    func scheduleRedelivery(_ positions: [Position], counting: Bool = true) {
        let unacked = self.cursor.assumeIsolated { cursor in positions.filter { !cursor.isAcked($0) } }
        for position in unacked {
            // Kept sorted: find the place by bisection, and skip a position already there.
            var low = 0
            var high = self.redeliveries.count
            while low < high {
                let middle = (low + high) / 2
                if self.redeliveries[middle] < position { low = middle + 1 } else { high = middle }
            }
            guard low == self.redeliveries.count || self.redeliveries[low] != position else { continue }
            self.redeliveries.insert(position, at: low)
            if counting { self.redeliveryCounts[position, default: 0] += 1 }
        }
    }

    /// Starts a dispatch pass unless one is running.
    func dispatch() {
        guard !self.dispatching, !self.consumers.isEmpty, let topic = self.topic else { return }
        self.dispatching = true
        Task { await self.dispatchPass(topic) }
    }

    /// Sends entries while consumers have permits: redeliveries first, then from the
    /// cursor's read position; when caught up, waits for the next entry. Runs isolated to
    /// the topic, so every step after an `await` is back on the topic's loop.
    private func dispatchPass(_ topic: isolated Topic) async {
        while let consumer = self.consumers.nextConsumer() {
            guard topic.mayServe() else {
                // The broker's ownership lapsed: no further dispatch.
                topic.close(topic.notServedReason)
                break
            }
            let keyShared = self.consumers.type == .keyShared
            do {
                if !self.redeliveries.isEmpty {
                    let position = self.redeliveries.removeFirst()
                    // Held messages whose time came have no count: they were not delivered before.
                    let count = self.redeliveryCounts[position] ?? 0
                    let epoch = self.epoch
                    guard let (_, entry) = try await self.ledger.read(from: position, count: 1).first, epoch == self.epoch else { continue }
                    let facts = EntryFacts(entry)
                    let target = keyShared ? self.consumers.owner(ofKey: facts.key) ?? consumer : consumer
                    if self.deliver(position, entry, facts, to: target, redeliveryCount: count) {
                        target.sink.flush()
                    } else {
                        self.scheduleRedelivery([position])
                    }
                    continue
                }
                let epoch = self.epoch
                let entries = try await self.readBatch(count: max(1, min(100, consumer.permits)))
                guard epoch == self.epoch else { continue }
                if entries.isEmpty {
                    // Redeliveries queued while the read was out (a consumer left) go now.
                    if !self.redeliveries.isEmpty { continue }
                    if await self.ledger.isTerminated, await self.cursor.readPosition > self.ledger.lastConfirmed {
                        // Everything of a terminated topic was sent: say so, once per consumer.
                        for consumer in self.consumers.consumers where consumer.markToldEnd() { consumer.sink.reachedEndOfTopic(consumer) }
                        self.flushDeliveries()
                        break
                    }
                    // Caught up: wait for the entry at the read position, then go on. (Not
                    // "after the last confirmed": entries may have been confirmed since the
                    // read looked.)
                    self.dispatching = false
                    _ = await self.ledger.waitForEntries(after: await self.cursor.readPosition.previousInLedger, timeout: .seconds(5))
                    self.dispatch()
                    return
                }
                var lastSent: Position?
                var delivered = 0
                let (holds, now) = (self.holdsDelayedMessages, Self.now)
                for (position, entry) in entries {
                    // Acknowledged already (individually, before a reload): not again.
                    if self.isAcked(position) {
                        lastSent = position
                        continue
                    }
                    let facts = EntryFacts(entry)
                    if holds, facts.deliverAt > now {
                        // Held until its time; a full index stops the reading here.
                        guard self.hold(position, until: facts.deliverAt) else { break }
                        lastSent = position
                        continue
                    }
                    let target: Consumer?
                    if keyShared {
                        // Every entry of a key goes to the same consumer; wait for its permits.
                        target = self.consumers.owner(ofKey: facts.key).flatMap { $0.permits > 0 ? $0 : nil }
                    } else {
                        target = delivered == 0 ? consumer : self.consumers.nextConsumer()
                    }
                    guard let target, self.deliver(position, entry, facts, to: target, redeliveryCount: 0) else { break }
                    lastSent = position
                    delivered += 1
                }
                self.flushDeliveries()
                // None sent: the next entry's consumer has no permits; its FLOW resumes dispatch.
                guard let lastSent else { break }
                await self.cursor.moveReadPosition(to: await self.ledger.next(after: lastSent))
            } catch {
                // A failed read (bookies unreachable) is tried again after a pause.
                try? await topic.clock.sleep(for: Self.retryDelay)
            }
        }
        self.dispatching = false
    }

    private func isAcked(_ position: Position) -> Bool {
        self.cursor.assumeIsolated { $0.isAcked(position) }
    }

    /// Sends what the consumers were given since the last flush: one flush per consumer
    /// per batch.
    private func flushDeliveries() {
        for consumer in self.consumers.consumers { consumer.sink.flush() }
    }

    /// The entries from the cursor's read position: the batch read ahead when it starts
    /// there, else read now. A full batch starts reading the next one.
    private func readBatch(count: Int) async throws -> [(Position, ByteBuffer)] {
        let from = await self.cursor.readPosition
        var entries: [(Position, ByteBuffer)] = []
        if let ahead = self.readAhead, ahead.from == from {
            // An empty batch read ahead may predate entries confirmed since: read again.
            entries = (try? await ahead.read.value) ?? []
        } else {
            self.readAhead?.read.cancel()
        }
        self.readAhead = nil
        if entries.isEmpty { entries = try await self.ledger.read(from: from, count: count) }
        if entries.count == count, let last = entries.last {
            let next = await self.ledger.next(after: last.0)
            let ledger = self.ledger
            self.readAhead = (next, Task { try await ledger.read(from: next, count: count) })
        }
        return entries
    }

    /// Sends an entry, with the batch messages already acked masked out; false when the
    /// consumer closed meanwhile.
    private func deliver(_ position: Position, _ entry: ByteBuffer, _ facts: EntryFacts, to consumer: Consumer, redeliveryCount: UInt32) -> Bool {
        let sent = consumer.send(
            position, entry: entry, messages: facts.messages, redeliveryCount: redeliveryCount,
            ackSet: self.cursor.assumeIsolated { $0.unackedBatchIndexes(of: position) }
        )
        if sent {
            // Three counters, no array: this runs for every entry delivered.
            self.topic?.counters.recordOut(messages: facts.messages, bytes: entry.readableBytes)
            self.counters.recordOut(messages: facts.messages, bytes: entry.readableBytes)
            consumer.counters.recordOut(messages: facts.messages, bytes: entry.readableBytes)
        }
        return sent
    }
}

/// What dispatch needs from a stored entry's metadata, parsed once per entry.
struct EntryFacts {
    /// Messages in the entry: its batch size, or 1. Permits count these.
    var messages = 1
    /// The ordering or partition key, the Key_Shared key ("" when none).
    var key = ""
    /// When it may be delivered (milliseconds since 1970; 0: at once).
    var deliverAt: Int64 = 0

    /// The most messages an entry is taken to hold.
    static let maxMessages = CommandLimits().maxMessagesPerBatch

    init(_ entry: ByteBuffer) {
        guard let metadata = try? PulsarPayload(parsing: entry).metadata else { return }
        // Stored entries are trusted no more than SENDs: a count no batch can hold is cut
        // to the most one can, so no permit sum or ack set grows with it.
        if metadata.hasNumMessagesInBatch { self.messages = min(max(1, Int(metadata.numMessagesInBatch)), Self.maxMessages) }
        if metadata.hasDeliverAtTime { self.deliverAt = metadata.deliverAtTime }
        self.key = metadata.hasOrderingKey ? String(decoding: metadata.orderingKey, as: UTF8.self) : metadata.partitionKey
    }
}
