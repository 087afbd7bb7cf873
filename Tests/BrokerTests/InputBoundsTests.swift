@testable import Broker
import Foundation
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// Numbers from clients and from stored entries that once trapped a broker: each is now
/// refused where it enters, or read within bounds where it was stored before that rule.
@Suite(.timeLimit(.minutes(1)))
struct InputBoundsTests {
    typealias Harness = TopicDispatchTests.Harness
    typealias Sink = TopicDispatchTests.RecordingSink
    typealias Machine = PulsarConnectionStateMachine<String, String>

    /// Stores one message with `edit` applied to its metadata, as the topic would have
    /// stored it before SENDs were checked; returns its position.
    static func store(_ harness: Harness, payload: String = "m", _ edit: (inout Pulsar_Proto_MessageMetadata) -> Void) async throws -> Position {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.publishTime = 1
        metadata.sequenceID = 0
        edit(&metadata)
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = 1
        command.send.sequenceID = 0
        var frame = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: ByteBuffer(string: payload), into: &frame)
        var decoder = PulsarFrameDecoder()
        let decoded = try #require(try decoder.decode(buffer: &frame)?.payload)
        return try await withCheckedThrowingContinuation { continuation in
            harness.topic.publish(harness.producer, decoded, sequenceIDs: 0...0) { continuation.resume(with: $0) }
        }
    }

    static func id(_ ledger: UInt64, _ entry: UInt64) -> Pulsar_Proto_MessageIdData {
        var id = Pulsar_Proto_MessageIdData()
        id.ledgerID = ledger
        id.entryID = entry
        return id
    }

    // MARK: 1. A cumulative ACK at entry 2^63 with an ack set

    @Test func aCumulativeAckAtEntryTwoToTheSixtyThreeWithAnAckSetChangesNothing() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(2)
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        let wild = Position(ledgerID: positions[0].ledgerID, entryID: Int64(bitPattern: 1 << 63))
        let refusal = await withCheckedContinuation { continuation in
            harness.topic.ack(consumer, [AckedMessage(position: wild, ackSet: [1])], cumulative: true) { continuation.resume(returning: $0) }
        }
        _ = refusal
        #expect(await consumer.subscription.cursor.markDeletePosition < positions[0], "nothing published was acknowledged by it")
        await harness.shutdown()
    }

    @Test func theConnectionRefusesAnAckOfAnIdThatIsNoEntry() {
        var machine = Machine()
        _ = machine.received(Self.connect())
        _ = machine.consumerCreated(1, "c")
        var command = Pulsar_Proto_BaseCommand()
        command.type = .ack
        command.ack.consumerID = 1
        command.ack.ackType = .cumulative
        var id = Self.id(5, 1 << 63)
        id.ackSet = [1]
        command.ack.messageID = [id]
        command.ack.requestID = 9
        guard case .reply(let answer) = machine.received(PulsarFrame(command: command)) else {
            Issue.record("the ACK was not refused")
            return
        }
        #expect(answer.type == .ackResponse && answer.ackResponse.error == .notAllowedError)
        command.ack.messageID = [Self.id(5, 1)]
        command.ack.messageID[0].ackSet = Array(repeating: -1, count: 20_000)
        guard case .reply = machine.received(PulsarFrame(command: command)) else {
            Issue.record("an ack set no batch can hold was not refused")
            return
        }
    }

    // MARK: 2. SEEK, or a reader's start id, at {2^62, 2^63}

    @Test func aSeekToEntryTwoToTheSixtyThreeIsRefused() async throws {
        let harness = try await Harness.make()
        _ = try await harness.publish(2)
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        var seek = Pulsar_Proto_CommandSeek()
        seek.consumerID = 1
        seek.messageID = Self.id(1 << 62, 1 << 63)
        await #expect(throws: BrokerError.self) { try await harness.topic.seek(consumer, seek) }
        await harness.shutdown()
    }

    @Test func aCursorSeekFarPastTheEndStopsAtTheEnd() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(2)
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        let cursor = consumer.subscription.cursor
        await cursor.seek(to: Position(ledgerID: 1 << 62, entryID: .min))
        await cursor.seek(to: Position(ledgerID: .max, entryID: .max))
        #expect(await cursor.markDeletePosition == positions[1], "a seek past the end consumes everything, and no more")
        await harness.shutdown()
    }

    @Test func aReaderStartIdOutsideTheLogIsRefusedAtSubscribe() {
        var machine = Machine()
        _ = machine.received(Self.connect())
        var command = Pulsar_Proto_BaseCommand()
        command.type = .subscribe
        command.subscribe.topic = "persistent://public/default/t"
        command.subscribe.subscription = "reader-1"
        command.subscribe.consumerID = 1
        command.subscribe.requestID = 3
        command.subscribe.durable = false
        command.subscribe.startMessageID = Self.id(1 << 62, 1 << 63)
        guard case .reply(let answer) = machine.received(PulsarFrame(command: command)) else {
            Issue.record("the SUBSCRIBE was not refused")
            return
        }
        #expect(answer.type == .error && answer.error.requestID == 3)
        // Pulsar's earliest and latest ids pass.
        command.subscribe.startMessageID = Self.id(.max, .max)
        guard case .subscribe = machine.received(PulsarFrame(command: command)) else {
            Issue.record("the earliest id was refused")
            return
        }
    }

    // MARK: 3. REST create-subscription and resetcursor at {2^62, Int64.min}

    @Test func aRESTMessageIDBelowEntryMinusOneIsRefused() throws {
        let body = ByteBuffer(string: #"{"ledgerId": 4611686018427387904, "entryId": -9223372036854775808}"#)
        #expect(throws: (any Error).self) { try BrokerRoutes.messageID(body) }
        #expect(try BrokerRoutes.messageID(ByteBuffer(string: #"{"ledgerId": 3, "entryId": -1}"#)) == Position(ledgerID: 3, entryID: 0))
    }

    @Test func aResetCursorToEntryInt64MinStaysInTheLog() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(2)
        try await harness.topic.createSubscription("admin", at: Position(ledgerID: 1 << 62, entryID: .min))
        try await harness.topic.resetCursor("admin", to: Position(ledgerID: 1 << 62, entryID: .min))
        let cursor = try #require(await harness.topic.cursor(named: "admin"))
        #expect(await cursor.markDeletePosition == positions[1])
        await harness.shutdown()
    }

    // MARK: 4. A stored batch of -2^31 messages, then GET_LAST_MESSAGE_ID

    @Test func theLastMessageOfAStoredBatchWithANegativeCountIsItsFirst() async throws {
        let harness = try await Harness.make()
        let position = try await Self.store(harness) { $0.numMessagesInBatch = .min }
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        let last = await harness.topic.lastMessage(for: consumer)
        #expect(last.position == position && last.batchIndex == 0)
        await harness.shutdown()
    }

    // MARK: 5. A partition index above Int32.max

    @Test func aPartitionIndexAboveInt32IsNoPartition() throws {
        let name = try TopicName("persistent://public/default/t-partition-3000000000")
        #expect(name.partitionIndex == -1)
        #expect(name.partitionedTopic == nil)
        #expect(try TopicName("persistent://public/default/t-partition-2147483647").partitionIndex == Int(Int32.max))
    }

    // MARK: 6. An exclusive producer at topic epoch 2^64-1, then one without an epoch

    @Test func aTopicEpochAtTheLastNumberRefusesTheNextProducer() async throws {
        let harness = try await Harness.make()
        await harness.topic.removeProducer(harness.producer)
        let (first, _) = try await harness.topic.addProducer(
            name: "x1", accessMode: .exclusive, connection: ObjectIdentifier(harness.cluster), producerID: 2, requestID: 2,
            topicEpoch: .max, brokerName: "b", sink: Sink()
        )
        try await harness.topic.storeEpoch(of: first)
        await harness.topic.removeProducer(first)
        await #expect(throws: BrokerError.self) {
            try await harness.topic.addProducer(
                name: "x2", accessMode: .exclusive, connection: ObjectIdentifier(harness.cluster), producerID: 3, requestID: 3,
                brokerName: "b", sink: Sink()
            )
        }
        await harness.shutdown()
    }

    /// The same epoch stored with the managed ledger by a broker before epochs were
    /// checked: the topic's next owner refuses a new exclusive producer instead of trapping.
    @Test func aStoredTopicEpochAtTheLastNumberRefusesTheNextProducer() async throws {
        let harness = try await Harness.make()
        await harness.topic.removeProducer(harness.producer)
        try await harness.topic.ledger.updateProperties { $0[Topic.epochProperty] = "18446744073709551615" }
        await #expect(throws: BrokerError.self) {
            try await harness.topic.addProducer(
                name: "x2", accessMode: .exclusive, connection: ObjectIdentifier(harness.cluster), producerID: 3, requestID: 3,
                brokerName: "b", sink: Sink()
            )
        }
        await harness.shutdown()
    }

    @Test func theConnectionRefusesATopicEpochAboveInt64() {
        var machine = Machine()
        _ = machine.received(Self.connect())
        var command = Pulsar_Proto_BaseCommand()
        command.type = .producer
        command.producer.topic = "persistent://public/default/t"
        command.producer.producerID = 1
        command.producer.requestID = 4
        command.producer.producerAccessMode = .exclusive
        command.producer.topicEpoch = .max
        guard case .reply(let answer) = machine.received(PulsarFrame(command: command)) else {
            Issue.record("the PRODUCER was not refused")
            return
        }
        #expect(answer.type == .error && answer.error.requestID == 4)
    }

    // MARK: 7. Sequence id 2^63-1 in a stored batch, then deduplication rebuilt

    @Test func deduplicationRebuildsOverASequenceIDAtTheLastNumber() async throws {
        let harness = try await Harness.make()
        // The snapshot cursor from before those entries, as a topic deduplicated since it began has.
        _ = try await harness.topic.ledger.openCursor(Deduplication.cursorName, initialPosition: .earliest)
        _ = try await Self.store(harness) {
            $0.sequenceID = UInt64(Int64.max)
            $0.numMessagesInBatch = 2
        }
        _ = try await Self.store(harness) { $0.sequenceID = .max }
        try await harness.topic.enableDeduplication()
        #expect(await harness.topic.deduplication?.persisted["p"] == .max)
        await harness.shutdown()
    }

    // MARK: 9. A message TTL above ~55 years; retention of Int.max minutes

    @Test func aTTLLongerThanSince1970ExpiresNothing() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(2)
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        var policies = TopicPolicies()
        policies.messageTTL = .seconds(Int64(Int32.max))
        try await harness.topic.apply(policies)
        await harness.topic.enforcePolicies()
        #expect(await consumer.subscription.cursor.markDeletePosition < positions[0])
        await harness.shutdown()
    }

    @Test func retentionOfIntMaxMinutesAndMegabytesIsKeptForEver() {
        let rule = RetentionRule(minutes: .max, megabytes: .max)
        let ledgers = [
            ManagedLedger.LedgerInfo(id: 1, entries: 1, size: 10, timestamp: 0),
            ManagedLedger.LedgerInfo(id: 2, entries: 0, size: 0, timestamp: nil),
        ]
        #expect(rule.deletable(ledgers, slowest: nil, now: Int64(Date().timeIntervalSince1970 * 1000)) == 0, "56 years is less than 2^31 minutes")
        let stored = TopicPolicies(
            topic: nil, namespace: { var n = NamespacePolicies(); n.retention = RetentionPolicies(retentionTimeInMinutes: .max, retentionSizeInMB: .max); return n }(),
            defaults: .init()
        )
        #expect(stored.retention.time != nil)
        #expect(throws: BrokerError.self) { try RetentionPolicies(retentionTimeInMinutes: .max, retentionSizeInMB: 1).validate() }
    }

    // MARK: A delivery time at Int64.max

    @Test func aMessageDelayedToTheLastMillisecondIsHeldWithoutOverflow() async throws {
        let harness = try await Harness.make()
        let position = try await Self.store(harness) { $0.deliverAtTime = .max }
        let sink = Sink()
        let consumer = try await harness.subscribe(1, sink, type: .shared)
        harness.topic.flow(consumer, permits: 10)
        try await Task.sleep(for: .milliseconds(200))
        #expect(sink.deliveries.isEmpty, "held, not delivered")
        #expect(await harness.topic.lastMessage(for: consumer).position == position, "the topic still serves")
        await harness.shutdown()
    }

    // MARK: 12. A batch index into an entry claiming 2^31-1 messages; FLOW past Int.max

    @Test func aStoredBatchCountIsBoundedByWhatABatchCanHold() async throws {
        let harness = try await Harness.make()
        let position = try await Self.store(harness) { $0.numMessagesInBatch = .max }
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        let entry = try #require(try await harness.topic.ledger.read(from: position, count: 1).first?.1)
        #expect(EntryFacts(entry).messages < 1_000_000, "at most what 5 MiB of messages can be")
        var seek = Pulsar_Proto_CommandSeek()
        seek.consumerID = 1
        seek.messageID = Self.id(UInt64(position.ledgerID), UInt64(position.entryID))
        seek.messageID.batchIndex = 1
        try await harness.topic.seek(consumer, seek)
        let cursor = consumer.subscription.cursor
        #expect(await cursor.readPosition == position)
        await harness.shutdown()
    }

    @Test func permitsStopAtTheirLimit() async throws {
        let harness = try await Harness.make()
        let consumer = try await harness.subscribe(1, Sink(), type: .exclusive)
        #expect(await harness.topic.addingPermits(consumer, [.max, .max, Int(UInt32.max)]) == Int(Int32.max))
        await harness.shutdown()
    }

    static func connect() -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .connect
        command.connect.protocolVersion = 20
        return PulsarFrame(command: command)
    }
}

extension Topic {
    /// Adds each of `counts` as FLOW permits on the topic's loop; returns the consumer's permits.
    fileprivate func addingPermits(_ consumer: Consumer, _ counts: [Int]) -> Int {
        for count in counts { consumer.addPermits(count) }
        return consumer.permits
    }
}
