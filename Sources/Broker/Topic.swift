import Codec
import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import SwiftProtobuf
import Synchronization

/// One topic on this broker: its managed ledger, producers and subscriptions.
///
/// A topic lives on one event loop, the one its managed ledger and ledger writer run
/// on: the actor's executor is that loop. Publishing hands entries to the managed
/// ledger there and its completions come back there in order, so receipts leave in order
/// per producer; subscriptions and their consumers are confined to the loop too, so the
/// dispatch path takes no lock. Connections on other loops hop with ``onLoop(_:)``.
///
/// A write failure of its managed ledger closes the topic (``close(because:)``): its
/// producers and consumers are told to reconnect, and the broker loads the topic anew for
/// them, so a producer resends everything from its first failed message, in order.
actor Topic {
    let name: TopicName
    let ledger: ManagedLedger
    nonisolated let eventLoop: any EventLoop
    /// How batches are stored: an uncompressed one is compressed with this first.
    let compression: CompressionType
    private var producers: [String: ProducerSlot] = [:]
    /// WaitForExclusive producers queued behind the current ones, oldest first.
    private var waiting: [(name: String, slot: ProducerSlot)] = []
    private var subscriptions: [String: Subscription] = [:]
    private var producerCounter = 0
    nonisolated let logger: Logger
    /// Set once by ``close(because:)``; from then on the topic takes no one new.
    private nonisolated let closedFlag = Atomic<Bool>(false)
    /// Closing the managed ledger, once the topic is closed.
    private var closing: Task<Void, Never>?

    /// A producer as the topic knows it, with what its connection does when the topic
    /// fences it out (ExclusiveWithFencing) or lets it in (WaitForExclusive).
    struct ProducerSlot: Sendable {
        var connection: ObjectIdentifier
        var producerID: UInt64
        var exclusive: Bool
        var fenced: @Sendable () -> Void
        var granted: @Sendable () -> Void
    }

    /// Whether a producer can send now, or waits for the topic to become free.
    enum ProducerAdmission: Equatable, Sendable {
        case ready(String)
        case queued(String)
    }

    init(name: TopicName, ledger: ManagedLedger, compression: CompressionType, logger: Logger) {
        self.name = name
        self.ledger = ledger
        self.eventLoop = ledger.eventLoop
        self.compression = compression
        self.logger = logger
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor { self.eventLoop.executor.asUnownedSerialExecutor() }

    /// Runs `body` isolated to the topic: at once when called on its loop, else queued
    /// there. Cheaper than a task for the per-message commands (FLOW, ACK).
    nonisolated func onLoop(_ body: @escaping @Sendable (isolated Topic) -> Void) {
        if self.eventLoop.inEventLoop {
            self.assumeIsolated(body)
        } else {
            self.eventLoop.execute { self.assumeIsolated(body) }
        }
    }

    /// Registers a producer under its access mode; returns its name (generated when none
    /// is given) and whether it is ready.
    ///
    /// - Shared joins unless an exclusive producer holds the topic.
    /// - Exclusive needs the topic to have no producer.
    /// - WaitForExclusive is queued while other producers exist and let in, in order,
    ///   when the last one leaves.
    /// - ExclusiveWithFencing closes every other producer and takes the topic.
    func addProducer(
        name requested: String?,
        accessMode: Pulsar_Proto_ProducerAccessMode,
        connection: ObjectIdentifier,
        producerID: UInt64,
        brokerName: String,
        fenced: @escaping @Sendable () -> Void,
        granted: @escaping @Sendable () -> Void
    ) throws(BrokerError) -> ProducerAdmission {
        try self.checkOpen()
        if let requested, let live = self.producers[requested] ?? self.waiting.first(where: { $0.name == requested })?.slot {
            if live.connection == connection && live.producerID == producerID {
                return self.producers[requested] == nil ? .queued(requested) : .ready(requested)
            }
            throw BrokerError(.producerBusy, "producer \(requested) is already connected to \(self.name)")
        }
        let name: String
        if let requested {
            name = requested
        } else {
            self.producerCounter += 1
            name = "\(brokerName)-\(self.producerCounter)-\(UInt32.random(in: 0...UInt32.max))"
        }
        var slot = ProducerSlot(
            connection: connection, producerID: producerID, exclusive: accessMode != .shared, fenced: fenced, granted: granted
        )
        switch accessMode {
        case .exclusive:
            if !self.producers.isEmpty {
                throw BrokerError(.producerFenced, "\(self.name) already has a producer; an exclusive one cannot join")
            }
        case .waitForExclusive:
            if !self.producers.isEmpty {
                self.waiting.append((name, slot))
                return .queued(name)
            }
        case .exclusiveWithFencing:
            let others = self.producers.values
            self.producers.removeAll()
            for other in others { other.fenced() }
        default:
            slot.exclusive = false
            if self.producers.values.contains(where: \.exclusive) {
                throw BrokerError(.producerFenced, "\(self.name) has an exclusive producer")
            }
        }
        self.producers[name] = slot
        return .ready(name)
    }

    /// A producer left (closed, fenced or disconnected): when the topic is now free, the
    /// first waiting exclusive producer gets it.
    func removeProducer(_ name: String) {
        self.producers[name] = nil
        self.waiting.removeAll { $0.name == name }
        if self.producers.isEmpty, !self.waiting.isEmpty {
            let (name, slot) = self.waiting.removeFirst()
            self.producers[name] = slot
            slot.granted()
        }
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
        try self.checkOpen()
        let subscription: Subscription
        if let existing = self.subscriptions[subscriptionName] {
            subscription = existing
        } else {
            let cursor = try await self.ledger.openCursor(subscriptionName, initialPosition: initialPosition == .earliest ? .earliest : .latest)
            try self.checkOpen()
            if let start { await cursor.seek(to: start) }
            subscription = Subscription(
                name: subscriptionName, type: type, partition: self.name.partitionIndex, durable: durable, cursor: cursor, topic: self
            )
            self.subscriptions[subscriptionName] = subscription
        }
        try subscription.add(consumer, type: type)
        return subscription
    }

    /// Removes a consumer that closed or whose connection went; a non-durable
    /// subscription left without consumers goes with it.
    func consumerLeft(_ consumer: Consumer, _ subscription: Subscription) {
        subscription.remove(consumer)
        guard !subscription.durable, subscription.isEmpty, self.subscriptions[subscription.name] === subscription else { return }
        self.subscriptions[subscription.name] = nil
        let ledger = self.ledger
        Task { try? await ledger.deleteCursor(subscription.name) }
    }

    /// Moves a subscription to `target` as a seek does: its consumers are closed, each
    /// told so (CLOSE_CONSUMER) on its own connection so that its client subscribes again,
    /// and its cursor is reset there. The notices are written before this returns, so a
    /// seek's SUCCESS written after it reaches the seeking client behind its own notice:
    /// the client then completes the seek once it has subscribed again.
    func reset(_ subscription: Subscription, to target: Position) {
        for consumer in subscription.removeAll() { consumer.notifyClosed() }
        subscription.cursor.assumeIsolated { $0.seek(to: target) }
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

extension Topic {
    /// Whether the topic was closed; the broker then loads it anew for the next client.
    nonisolated var isClosed: Bool { self.closedFlag.load(ordering: .sequentiallyConsistent) }

    func checkOpen() throws(BrokerError) {
        if self.isClosed { throw BrokerError(.serviceNotReady, "\(self.name) is closing; retry") }
    }

    /// Closes the topic after a write of its managed ledger failed (or it was taken over):
    /// every producer gets CLOSE_PRODUCER and every consumer CLOSE_CONSUMER, so that their
    /// clients reconnect to the topic loaded anew (which recovers its last ledger) and
    /// producers resend what was not receipted, in order. Then the managed ledger is closed,
    /// persisting the cursors. Closing again does nothing.
    func close(because error: any Error) {
        guard !self.closedFlag.exchange(true, ordering: .sequentiallyConsistent) else { return }
        self.logger.warning("closing topic after a storage failure", metadata: ["topic": "\(self.name)", "error": "\(error)"])
        let producers = Array(self.producers.values) + self.waiting.map { $0.slot }
        self.producers.removeAll()
        self.waiting.removeAll()
        for producer in producers { producer.fenced() }
        for subscription in self.subscriptions.values {
            for consumer in subscription.removeAll() { consumer.notifyClosed() }
        }
        self.subscriptions.removeAll()
        let (ledger, logger, name) = (self.ledger, self.logger, self.name)
        self.closing = Task {
            do {
                try await ledger.close()
            } catch {
                logger.warning("closing the managed ledger of a failed topic failed", metadata: ["topic": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Returns once a closed topic's managed ledger is closed (at once for an open topic).
    func waitUntilClosed() async {
        await self.closing?.value
    }
}

/// The bytes a topic stores per entry: `[u16 0x0e01][u32 crc32c][u32 metadataSize]
/// [MessageMetadata][payload]`, the same layout as on the wire, so dispatch forwards it
/// without re-encoding.
enum StoredEntry {
    /// The entry for a published message. When `compression` is set and the client sent
    /// the batch uncompressed, the payload is compressed and the metadata (compression,
    /// uncompressed size) and checksum are rewritten; otherwise the received bytes are
    /// stored as they are. Encrypted and chunked messages are never recompressed: their
    /// clients decompress after decrypting or reassembling.
    static func encode(_ payload: PulsarPayload, compression: CompressionType = .none) -> ByteBuffer {
        let metadata = payload.metadata
        if compression != .none, metadata.compression == .none, metadata.encryptionKeys.isEmpty, !metadata.hasNumChunksFromMsg,
            let compressed = try? compression.compress(payload.payload)
        {
            var rewritten = metadata
            rewritten.compression = Pulsar_Proto_CompressionType(rawValue: Int(compression.rawValue)) ?? .none
            rewritten.uncompressedSize = UInt32(payload.payload.readableBytes)
            if let encoded = try? rewritten.serializedBytes() as [UInt8] {
                var entry = ByteBuffer()
                entry.reserveCapacity(10 + encoded.count + compressed.readableBytes)
                entry.writeInteger(PulsarFrame.checksumMagic)
                let checksumIndex = entry.writerIndex
                entry.writeInteger(UInt32(0))
                entry.writeInteger(UInt32(encoded.count))
                entry.writeBytes(encoded)
                entry.writeImmutableBuffer(compressed)
                // Through a pointer: a slice would share the storage and make the write copy it.
                let checksum = entry.withUnsafeReadableBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(checksumIndex + 4)...])) }
                entry.setInteger(checksum, at: checksumIndex)
                return entry
            }
        }
        var entry = ByteBuffer()
        entry.reserveCapacity(6 + payload.metadataAndPayload.readableBytes)
        entry.writeInteger(PulsarFrame.checksumMagic)
        entry.writeInteger(payload.checksum ?? CRC32C.checksum(payload.metadataAndPayload))
        entry.writeImmutableBuffer(payload.metadataAndPayload)
        return entry
    }
}
