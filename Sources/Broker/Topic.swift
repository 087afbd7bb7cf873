import Codec
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// One topic on this broker: its managed ledger, producers and subscriptions.
///
/// Publishing goes straight to the managed ledger, whose completions come in order, so
/// receipts leave in order per producer. Producer and subscription bookkeeping is
/// serialised by the actor.
actor Topic {
    let name: TopicName
    let ledger: ManagedLedger
    private var producers: [String: ProducerSlot] = [:]
    private var subscriptions: [String: Subscription] = [:]
    private var producerCounter = 0

    private struct ProducerSlot {
        var connection: ObjectIdentifier
        var producerID: UInt64
        var exclusive: Bool
    }

    init(name: TopicName, ledger: ManagedLedger) {
        self.name = name
        self.ledger = ledger
    }

    /// Registers a producer; returns its name (generated when none is given).
    func addProducer(
        name requested: String?,
        accessMode: Pulsar_Proto_ProducerAccessMode,
        connection: ObjectIdentifier,
        producerID: UInt64,
        brokerName: String
    ) throws(BrokerError) -> String {
        if let requested, let live = self.producers[requested] {
            if live.connection == connection && live.producerID == producerID { return requested }
            throw BrokerError(.producerBusy, "producer \(requested) is already connected to \(self.name)")
        }
        let exclusive = accessMode == .exclusive || accessMode == .exclusiveWithFencing || accessMode == .waitForExclusive
        if exclusive, !self.producers.isEmpty {
            throw BrokerError(.producerFenced, "\(self.name) already has a producer; an exclusive one cannot join")
        }
        if self.producers.values.contains(where: \.exclusive) {
            throw BrokerError(.producerFenced, "\(self.name) has an exclusive producer")
        }
        let name: String
        if let requested {
            name = requested
        } else {
            self.producerCounter += 1
            name = "\(brokerName)-\(self.producerCounter)-\(UInt32.random(in: 0...UInt32.max))"
        }
        self.producers[name] = ProducerSlot(connection: connection, producerID: producerID, exclusive: exclusive)
        return name
    }

    func removeProducer(_ name: String) {
        self.producers[name] = nil
    }

    /// Adds a consumer to a subscription, creating the subscription (and its cursor) when
    /// new. A new subscription starts at `start` when given (a reader's start message),
    /// else at the initial position. A non-durable one (a reader's) goes with its last
    /// consumer.
    func subscribe(
        _ subscriptionName: String,
        type: Pulsar_Proto_CommandSubscribe.SubType,
        initialPosition: Pulsar_Proto_CommandSubscribe.InitialPosition,
        start: Position?,
        durable: Bool,
        consumer: Consumer
    ) async throws -> Subscription {
        let subscription: Subscription
        if let existing = self.subscriptions[subscriptionName] {
            subscription = existing
        } else {
            let cursor = try await self.ledger.openCursor(subscriptionName, initialPosition: initialPosition == .earliest ? .earliest : .latest)
            if let start { cursor.seek(to: start) }
            subscription = Subscription(name: subscriptionName, type: type, durable: durable, cursor: cursor, ledger: self.ledger)
            self.subscriptions[subscriptionName] = subscription
        }
        try subscription.add(consumer, type: type)
        return subscription
    }

    /// Called when a consumer leaves: a non-durable subscription without consumers goes.
    func consumerLeft(_ subscription: Subscription) async {
        guard !subscription.durable, subscription.isEmpty, self.subscriptions[subscription.name] === subscription else { return }
        self.subscriptions[subscription.name] = nil
        try? await self.ledger.deleteCursor(subscription.name)
    }

    /// The first position whose message was published at or after `time` (milliseconds),
    /// or the position after the last entry.
    func position(publishedAtOrAfter time: UInt64) async throws -> Position {
        var position = self.ledger.firstPosition
        while true {
            let entries = try await self.ledger.read(from: position, count: 100)
            guard !entries.isEmpty else { return position }
            for (entryPosition, entry) in entries {
                if let payload = try? PulsarPayload(parsing: entry), payload.metadata.publishTime >= time { return entryPosition }
                position = self.ledger.next(after: entryPosition)
            }
        }
    }

    func unsubscribe(_ subscriptionName: String, consumer: Consumer) async throws {
        guard let subscription = self.subscriptions[subscriptionName] else { return }
        guard subscription.onlyConsumer(is: consumer) else {
            throw BrokerError(.consumerBusy, "subscription \(subscriptionName) has other consumers")
        }
        subscription.remove(consumer)
        self.subscriptions[subscriptionName] = nil
        try await self.ledger.deleteCursor(subscriptionName)
    }
}

/// The bytes a topic stores per entry: `[u16 0x0e01][u32 crc32c][u32 metadataSize]
/// [MessageMetadata][payload]`, the same layout as on the wire, so dispatch forwards it
/// without re-encoding.
enum StoredEntry {
    static func encode(_ payload: PulsarPayload) -> ByteBuffer {
        var entry = ByteBuffer()
        entry.reserveCapacity(6 + payload.metadataAndPayload.readableBytes)
        entry.writeInteger(PulsarFrame.checksumMagic)
        entry.writeInteger(payload.checksum ?? CRC32C.checksum(payload.metadataAndPayload))
        entry.writeImmutableBuffer(payload.metadataAndPayload)
        return entry
    }
}
