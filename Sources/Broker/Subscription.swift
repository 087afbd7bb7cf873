import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// A consumer on one connection: its permits and what it was sent but has not acked.
final class Consumer: Sendable {
    let consumerID: UInt64
    let name: String
    private let channel: any Channel
    private let state = Mutex(State())

    private struct State {
        var permits = 0
        /// Sent and not acked, with the messages each counted against permits.
        var unacked: [Position: Int] = [:]
    }

    init(consumerID: UInt64, name: String, channel: any Channel) {
        self.consumerID = consumerID
        self.name = name
        self.channel = channel
    }

    var permits: Int { self.state.withLock { $0.permits } }

    func addPermits(_ count: Int) {
        self.state.withLock { $0.permits += count }
    }

    /// Sends one stored entry as a MESSAGE, counting `messages` against the permits.
    func send(_ position: Position, entry: ByteBuffer, messages: Int, redeliveryCount: UInt32) {
        var message = Pulsar_Proto_CommandMessage()
        message.consumerID = self.consumerID
        var id = Pulsar_Proto_MessageIdData()
        id.ledgerID = UInt64(bitPattern: position.ledgerID)
        id.entryID = UInt64(bitPattern: position.entryID)
        id.partition = -1
        message.messageID = id
        if redeliveryCount > 0 { message.redeliveryCount = redeliveryCount }
        var command = Pulsar_Proto_BaseCommand()
        command.type = .message
        command.message = message
        var stored = entry
        guard let (_, checksum) = stored.readMultipleIntegers(as: (UInt16, UInt32).self) else { return }
        var frame = self.channel.allocator.buffer(capacity: stored.readableBytes + 64)
        do {
            try PulsarFrame.write(command: command, metadataAndPayload: stored, checksum: checksum, into: &frame)
        } catch {
            return
        }
        self.state.withLock { state in
            state.permits -= messages
            state.unacked[position] = messages
        }
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
}

/// A named subscription: a durable cursor and the consumers it dispatches to.
///
/// Exclusive and Failover have one active consumer; Shared deals entries round-robin to
/// consumers with permits. Dispatch reads from the cursor's read position and, when
/// caught up, waits for the next entry.
final class Subscription: Sendable {
    let name: String
    /// False for a reader's subscription, which goes with its last consumer.
    let durable: Bool
    let cursor: ManagedCursor
    let ledger: ManagedLedger
    private let state: Mutex<State>

    private struct State {
        var type: Pulsar_Proto_CommandSubscribe.SubType
        var consumers: [Consumer] = []
        var next = 0
        var dispatching = false
        /// Positions to send again before reading on, with their redelivery counts.
        var redeliver: [Position] = []
        var redeliveryCounts: [Position: UInt32] = [:]
    }

    init(name: String, type: Pulsar_Proto_CommandSubscribe.SubType, durable: Bool, cursor: ManagedCursor, ledger: ManagedLedger) {
        self.name = name
        self.durable = durable
        self.cursor = cursor
        self.ledger = ledger
        self.state = Mutex(State(type: type))
    }

    func add(_ consumer: Consumer, type: Pulsar_Proto_CommandSubscribe.SubType) throws(BrokerError) {
        try self.state.withLock { (state: inout State) throws(BrokerError) in
            if state.consumers.isEmpty {
                state.type = type
            } else if state.type != type {
                throw BrokerError(.consumerBusy, "subscription \(self.name) is \(state.type), not \(type)")
            } else if type == .exclusive {
                throw BrokerError(.consumerBusy, "exclusive subscription \(self.name) already has a consumer")
            }
            state.consumers.append(consumer)
        }
    }

    func onlyConsumer(is consumer: Consumer) -> Bool {
        self.state.withLock { $0.consumers.count == 1 && $0.consumers[0] === consumer }
    }

    /// Removes a consumer; what it had not acked goes to the others.
    func remove(_ consumer: Consumer) {
        let unacked = consumer.takeUnacked()
        self.state.withLock { state in
            state.consumers.removeAll { $0 === consumer }
            for position in unacked where !self.cursor.isAcked(position) {
                state.redeliver.append(position)
                state.redeliveryCounts[position, default: 0] += 1
            }
            state.redeliver.sort()
        }
        self.dispatch()
    }

    var isEmpty: Bool { self.state.withLock { $0.consumers.isEmpty } }

    /// Removes every consumer (a seek does, so that clients subscribe again from the new
    /// position) and returns them; nothing is redelivered.
    func removeAll() -> [Consumer] {
        self.state.withLock { state in
            defer {
                state.consumers.removeAll()
                state.redeliver.removeAll()
            }
            return state.consumers
        }
    }

    func flow(_ consumer: Consumer, permits: Int) {
        consumer.addPermits(permits)
        self.dispatch()
    }

    func ack(_ positions: [Position], cumulative: Bool, from consumer: Consumer) {
        if cumulative, let last = positions.max() {
            self.cursor.ackCumulative(last)
            consumer.ackedThrough(last)
        } else {
            for position in positions { self.cursor.ack(position) }
            consumer.acked(positions)
        }
    }

    /// Sends again what `consumer` has not acked (all of it when `positions` is empty).
    func redeliver(_ consumer: Consumer, positions: [Position]) {
        let taken = consumer.takeUnacked()
        let chosen = positions.isEmpty ? taken : positions
        self.state.withLock { state in
            for position in chosen where !self.cursor.isAcked(position) {
                state.redeliver.append(position)
                state.redeliveryCounts[position, default: 0] += 1
            }
            state.redeliver.sort()
        }
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

    /// The consumer that owns a key in a Key_Shared subscription (by the key's hash), or
    /// nil when it has no permits left.
    private func consumer(forKey key: String) -> Consumer? {
        self.state.withLock { state in
            guard !state.consumers.isEmpty else { return nil }
            var hash: UInt32 = 2_166_136_261  // FNV-1a
            for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
            let consumer = state.consumers[Int(hash % UInt32(state.consumers.count))]
            return consumer.permits > 0 ? consumer : nil
        }
    }

    private var isKeyShared: Bool { self.state.withLock { $0.type == .keyShared } }

    /// The consumer to get the next entry, or nil when none has permits.
    private func nextConsumer() -> Consumer? {
        self.state.withLock { state in
            guard !state.consumers.isEmpty else { return nil }
            if state.type != .shared && state.type != .keyShared {
                return state.consumers[0].permits > 0 ? state.consumers[0] : nil
            }
            for offset in 0..<state.consumers.count {
                let consumer = state.consumers[(state.next + offset) % state.consumers.count]
                if consumer.permits > 0 {
                    state.next = (state.next + offset + 1) % state.consumers.count
                    return consumer
                }
            }
            return nil
        }
    }

    private func dispatchLoop() async {
        while true {
            guard let consumer = self.nextConsumer() else { break }
            let redelivery = self.state.withLock { state -> (Position, UInt32)? in
                guard !state.redeliver.isEmpty else { return nil }
                let position = state.redeliver.removeFirst()
                return (position, state.redeliveryCounts[position] ?? 1)
            }
            do {
                if let (position, count) = redelivery {
                    guard let (_, entry) = try await self.ledger.read(from: position, count: 1).first else { continue }
                    consumer.send(position, entry: entry, messages: Self.messageCount(entry), redeliveryCount: count)
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
                    if self.isKeyShared {
                        // Every entry of a key goes to the same consumer; wait for its permits.
                        target = self.consumer(forKey: Self.key(of: entry))
                    } else {
                        target = entryPosition == entries[0].0 ? consumer : self.nextConsumer()
                    }
                    guard let target else { break }
                    target.send(entryPosition, entry: entry, messages: Self.messageCount(entry), redeliveryCount: 0)
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
