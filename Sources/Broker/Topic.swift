import Codec
import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization

/// One topic on this broker: its managed ledger, producers and subscriptions. Every
/// message published, every subscription, ack and seek goes through it.
///
/// A topic lives on one event loop, the one its managed ledger and ledger writer run
/// on: the actor's executor is that loop. Publishing hands entries to the managed
/// ledger there and its completions come back there in order, so receipts leave in order
/// per producer; subscriptions and their consumers are confined to the loop too, so the
/// dispatch path takes no lock. Connections on other loops hop with ``onLoop(_:)``.
///
/// A topic is loaded by the ``TopicManager`` and closed (``close(_:)``) when its managed
/// ledger fails a write, when it is unloaded, idle, or the broker stops: its producers
/// and consumers are told to reconnect (CLOSE_PRODUCER, CLOSE_CONSUMER), its managed
/// ledger is closed, and the manager forgets it, so the next client loads it anew.
actor Topic {
    let name: TopicName
    let ledger: ManagedLedger
    nonisolated let eventLoop: any EventLoop
    /// How batches are stored: an uncompressed one is compressed with this first.
    let compression: CompressionType
    var producers: [String: Producer] = [:]
    /// WaitForExclusive producers queued behind the current ones, oldest first.
    var waiting: [Producer] = []
    var subscriptions: [String: Subscription] = [:]
    var producerCounter = 0
    /// The epoch of exclusive access: raised each time an exclusive producer takes the
    /// topic (nil: none ever did since it loaded here).
    var topicEpoch: UInt64?
    nonisolated let logger: Logger
    /// Set once by ``close(_:)``; from then on the topic takes no one new.
    private nonisolated let closedFlag = Atomic<Bool>(false)
    /// Closing the managed ledger, once the topic is closed.
    var closing: Task<Void, Never>?
    /// Told once the topic is closed, so that it is forgotten.
    nonisolated let onClosed: @Sendable (Topic) -> Void
    /// When the last producer or consumer left (or the topic was loaded).
    var idleSince: ContinuousClock.Instant = .now
    /// The clock dispatch waits on (retries after a failed read).
    nonisolated let clock: any Clock<Duration>
    /// What was published and delivered, for the load reports.
    nonisolated let counters = TrafficCounters()
    /// How long bookies took to store each entry, in milliseconds.
    nonisolated let writeLatency = BucketCounters.writeLatency()
    /// The size of each stored entry, in bytes.
    nonisolated let entrySizes = BucketCounters.entrySize()
    /// Whether this broker may still acknowledge writes of the topic: false once its
    /// ownership lapsed (a paused broker woke up past its session's TTL), or while its
    /// bundle is being unloaded.
    nonisolated let mayServe: @Sendable () -> Bool
    /// Whether the broker's ownership lapsed (its session's lease ran out), as opposed to
    /// its bundle being unloaded: then the topic gives its ledger up instead of closing it.
    nonisolated let ownershipLapsed: @Sendable () -> Bool
    /// How long a close waits for the managed ledger to close cleanly before giving it up
    /// (see ``closeLedger(_:within:logger:topic:)``).
    nonisolated let ledgerCloseLimit: Duration
    /// The policies in force (see ``apply(_:)``).
    var policies = TopicPolicies()
    /// Producer deduplication, while it is on (see ``enableDeduplication()``).
    var deduplication: Deduplication?
    /// Whether sends go through deduplication (read off the loop).
    nonisolated let deduplicating = Atomic<Bool>(false)
    /// Duplicates whose earlier copy is still being stored, receipted once it is.
    var duplicatesWaiting: [DuplicateWaiting] = []
    /// The last entry stored through deduplication, and its snapshot cursor.
    var lastDeduplicated: Position?
    var deduplicationCursor: ManagedCursor?
    /// Set by the policy rounds while the age quota that holds producers back is exceeded.
    var ageQuotaExceeded = false

    /// Most messages each subscription holds back for their delivery time.
    nonisolated let delayedDeliveryCapacity: Int

    /// What a send is answered with once stored (or refused).
    typealias PublishCompletion = @Sendable (Result<Position, BrokerError>) -> Void

    init(
        name: TopicName, ledger: ManagedLedger, compression: CompressionType, logger: Logger, clock: any Clock<Duration> = ContinuousClock(),
        mayServe: @escaping @Sendable () -> Bool = { true }, ownershipLapsed: @escaping @Sendable () -> Bool = { true },
        delayedDeliveryCapacity: Int = 1_000_000, ledgerCloseLimit: Duration = .seconds(10), onClosed: @escaping @Sendable (Topic) -> Void = { _ in }
    ) {
        self.ledgerCloseLimit = ledgerCloseLimit
        self.delayedDeliveryCapacity = delayedDeliveryCapacity
        self.mayServe = mayServe
        self.ownershipLapsed = ownershipLapsed
        self.name = name
        self.ledger = ledger
        self.eventLoop = ledger.eventLoop
        self.compression = compression
        self.logger = logger
        self.onClosed = onClosed
        self.clock = clock
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

    /// Whether the topic was closed; the manager then loads it anew for the next client.
    nonisolated var isClosed: Bool { self.closedFlag.load(ordering: .sequentiallyConsistent) }

    /// Marks the topic closed; true the first time.
    func markClosed() -> Bool {
        !self.closedFlag.exchange(true, ordering: .sequentiallyConsistent)
    }

    func checkOpen() throws(BrokerError) {
        if self.isClosed { throw BrokerError(.serviceNotReady, "\(self.name) is closing; retry") }
    }

    // MARK: Publishing

    /// Stores a message of `producer` and calls `completion` with its position once the
    /// ack quorum has it, in the order of the calls. `sequenceIDs` are the producer's
    /// sequence ids of the message (a batch's first and last): with deduplication on, a
    /// message sent before is not stored again and is answered with
    /// ``Position/duplicate``. A failed write closes the topic: nothing sent after a failed
    /// message may be stored before it, so its producers reconnect and resend from there,
    /// in order.
    nonisolated func publish(
        _ producer: Producer, _ payload: PulsarPayload, sequenceIDs: ClosedRange<Int64>, completion: @escaping PublishCompletion
    ) {
        guard !producer.isClosed, !self.isClosed else {
            return completion(.failure(BrokerError(.serviceNotReady, "producer \(producer.name) of \(self.name) was closed; reconnect")))
        }
        if self.deduplicating.load(ordering: .relaxed) {
            // Decided on the topic's loop, where the appends are submitted in the same order.
            return self.onLoop { $0.publishOnce(producer, payload, sequenceIDs: sequenceIDs, completion: completion) }
        }
        self.store(producer, payload, completion: completion)
    }

    /// Hands a message to the managed ledger (see ``publish(_:_:sequenceIDs:completion:)``).
    nonisolated func store(_ producer: Producer, _ payload: PulsarPayload, completion: @escaping PublishCompletion) {
        let (messages, bytes) = (Int(max(1, payload.metadata.numMessagesInBatch)), payload.metadataAndPayload.readableBytes)
        self.counters.recordIn(messages: messages, bytes: bytes)
        producer.counters.recordIn(messages: messages, bytes: bytes)
        let entry = StoredEntry.encode(payload, compression: self.compression)
        self.entrySizes.record(Double(entry.readableBytes))
        let started = ContinuousClock.now
        self.ledger.append(entry) { result in
            switch result {
            case .success(let position):
                self.writeLatency.record((ContinuousClock.now - started) / .milliseconds(1))
                // Stored, but a broker whose ownership lapsed meanwhile (it was paused
                // past its session) acknowledges nothing more: the producer is closed and
                // resends to the new owner.
                guard self.mayServe() else {
                    self.onLoop { $0.close($0.notServedReason) }
                    return completion(.failure(BrokerError(.withheld, "\(self.name) is no longer served here")))
                }
                completion(.success(position))
            case .failure(let error as ManagedLedgerError) where error.code == .terminated:
                completion(.failure(BrokerError(.topicTerminated, "\(self.name) is terminated")))
            case .failure(let error):
                self.onLoop { $0.close(.failed(error)) }
                completion(.failure(BrokerError(.persistence, "\(error)")))
            }
        }
    }
}
