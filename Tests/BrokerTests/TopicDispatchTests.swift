@testable import Broker
import BookieWire
import Codec
import Ledger
import LedgerTesting
import Logging
import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire
import Synchronization
import Testing

/// Topics over in-process bookies: publish, dispatch, redelivery and seek in
/// milliseconds, with bookie reads held where a test needs a race.
@Suite(.timeLimit(.minutes(1)))
struct TopicDispatchTests {
    /// Records what a topic sends a consumer's client.
    final class RecordingSink: ConsumerSink, ProducerSink {
        struct Delivery: Equatable {
            var consumerID: UInt64
            var position: Position
            var redeliveryCount: UInt32
        }

        private let state = Mutex<(deliveries: [Delivery], closed: [UInt64], ended: [UInt64])>(([], [], []))

        var deliveries: [Delivery] { self.state.withLock { $0.deliveries } }
        var closed: [UInt64] { self.state.withLock { $0.closed } }
        var ended: [UInt64] { self.state.withLock { $0.ended } }

        func deliver(_ consumer: any ConsumerHandle, _ position: Position, entry: ByteBuffer, redeliveryCount: UInt32, ackSet: [Int64]?) {
            self.state.withLock { $0.deliveries.append(Delivery(consumerID: consumer.consumerID, position: position, redeliveryCount: redeliveryCount)) }
        }

        func flush() {}
        func activeChanged(_ consumer: any ConsumerHandle, active: Bool) {}
        func consumerClosed(_ consumer: any ConsumerHandle) { self.state.withLock { $0.closed.append(consumer.consumerID) } }
        func reachedEndOfTopic(_ consumer: any ConsumerHandle) { self.state.withLock { $0.ended.append(consumer.consumerID) } }
        func producerReady(_ producer: Producer) {}
        func producerClosed(_ producer: Producer) {}
    }

    struct Harness {
        let cluster: InProcessCluster
        let topic: Topic
        let producer: Producer

        /// A topic on three in-process bookies at 3/2/2, with no entry cache: every
        /// dispatch read goes to the bookies.
        static func make(clock: any Clock<Duration> = ContinuousClock()) async throws -> Harness {
            let cluster = try await InProcessCluster.start(bookies: 3)
            var configuration = ManagedLedgerConfiguration()
            configuration.ensembleSize = 3
            configuration.writeQuorum = 2
            configuration.ackQuorum = 2
            configuration.cacheSize = 0
            let ledger = try await ManagedLedger.open(
                name: "t/ns/persistent/dispatch", client: cluster.client(), metadata: cluster.metadata, configuration: configuration
            )
            let topic = Topic(
                name: try TopicName("persistent://t/ns/dispatch"), ledger: ledger, compression: .none, logger: Logger(label: "test"), clock: clock
            )
            let (producer, _) = try await topic.addProducer(
                name: "p", accessMode: .shared, connection: ObjectIdentifier(cluster), producerID: 1, requestID: 1, brokerName: "b",
                sink: RecordingSink()
            )
            return Harness(cluster: cluster, topic: topic, producer: producer)
        }

        /// Publishes `count` messages; returns their positions.
        func publish(_ count: Int) async throws -> [Position] {
            var positions: [Position] = []
            for index in 0..<count {
                var metadata = Pulsar_Proto_MessageMetadata()
                metadata.producerName = "p"
                metadata.sequenceID = UInt64(index)
                metadata.publishTime = UInt64(index + 1)
                var command = Pulsar_Proto_BaseCommand()
                command.type = .send
                command.send.producerID = 1
                command.send.sequenceID = UInt64(index)
                var frame = ByteBuffer()
                try PulsarFrame.write(command: command, metadata: metadata, payload: ByteBuffer(string: "m\(index)"), into: &frame)
                var decoder = PulsarFrameDecoder()
                let payload = try #require(try decoder.decode(buffer: &frame)?.payload)
                let position = try await withCheckedThrowingContinuation { continuation in
                    self.topic.publish(self.producer, payload, sequenceIDs: Int64(index)...Int64(index)) { continuation.resume(with: $0) }
                }
                positions.append(position)
            }
            return positions
        }

        func subscribe(_ consumerID: UInt64, _ sink: RecordingSink, type: Pulsar_Proto_CommandSubscribe.SubType = .shared) async throws -> Consumer {
            var request = Pulsar_Proto_CommandSubscribe()
            request.topic = "persistent://t/ns/dispatch"
            request.subscription = "s"
            request.subType = type
            request.consumerID = consumerID
            request.consumerName = "c\(consumerID)"
            request.initialPosition = .earliest
            return try await self.topic.subscribe(SubscribeRequest(request), sink: sink)
        }

        /// Every bookie holds reads until released.
        func holdReads() {
            for bookie in self.cluster.bookies {
                bookie.setFault { request in
                    if case .read = request { return .hold }
                    return nil
                }
            }
        }

        func releaseReads() {
            for bookie in self.cluster.bookies {
                bookie.setFault(nil)
                bookie.releaseHeld()
            }
        }

        func shutdown() async {
            await self.topic.closeAndWait(.shutdown)
            await self.cluster.shutdown()
        }
    }

    static func waitFor(_ what: String, within timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestHarnessFailure(what) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    struct TestHarnessFailure: Error, CustomStringConvertible {
        var description: String
        init(_ what: String) { self.description = "timed out waiting for \(what)" }
    }

    @Test func aConsumerGetsWhatWasPublishedInOrderAsItsPermitsAllow() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(5)
        let sink = RecordingSink()
        let consumer = try await harness.subscribe(1, sink)
        harness.topic.flow(consumer, permits: 3)
        try await Self.waitFor("three messages") { sink.deliveries.count == 3 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(sink.deliveries.map(\.position) == Array(positions.prefix(3)), "no more than the permits")
        harness.topic.flow(consumer, permits: 10)
        try await Self.waitFor("five messages") { sink.deliveries.count == 5 }
        #expect(sink.deliveries.map(\.position) == positions)
        await harness.shutdown()
    }

    /// A seek while dispatch waits on a redelivery's read: what that read brings back is
    /// from before the seek and must not be queued again (it would be delivered out of
    /// order, and twice).
    @Test func aRedeliveryReadAcrossASeekIsDropped() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(5)
        let first = RecordingSink()
        let consumer = try await harness.subscribe(1, first)
        harness.topic.flow(consumer, permits: 10)
        try await Self.waitFor("five messages") { first.deliveries.count == 5 }

        // The redelivery of m3 and m4 is held at the bookies while the subscription seeks
        // back to m1.
        func reads() -> Int { harness.cluster.bookies.map { $0.received(.read) }.reduce(0, +) }
        let readsBefore = reads()
        harness.holdReads()
        harness.topic.redeliver(consumer, positions: [positions[3], positions[4]])
        try await Self.waitFor("a held read") { reads() > readsBefore }
        await harness.topic.reset(consumer.subscription, to: positions[1])
        #expect(first.closed == [1])
        harness.releaseReads()

        let second = RecordingSink()
        let again = try await harness.subscribe(2, second)
        harness.topic.flow(again, permits: 10)
        try await Self.waitFor("four messages after the seek") { second.deliveries.count >= 4 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(second.deliveries.map(\.position) == Array(positions[1...]), "what follows the seek, in order, once")
        await harness.shutdown()
    }

    /// A consumer of a Shared or Key_Shared subscription holds four messages and asks for
    /// one of them again (a negative ack): that one comes again, with its redelivery count.
    /// The other three are still its own, unacknowledged: when it leaves, all four go to
    /// the other consumer of the subscription.
    @Test(arguments: [Pulsar_Proto_CommandSubscribe.SubType.shared, .keyShared])
    func namedRedeliveryKeepsTheConsumersOtherMessages(_ type: Pulsar_Proto_CommandSubscribe.SubType) async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(4)
        let first = RecordingSink()
        let consumer = try await harness.subscribe(1, first, type: type)
        harness.topic.flow(consumer, permits: 100)
        try await Self.waitFor("four messages") { first.deliveries.count == 4 }

        harness.topic.redeliver(consumer, positions: [positions[0]])
        try await Self.waitFor("the named message again") { first.deliveries.count == 5 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(first.deliveries.count == 5, "only the named message comes again")
        #expect(first.deliveries.last == RecordingSink.Delivery(consumerID: 1, position: positions[0], redeliveryCount: 1))

        let second = RecordingSink()
        let other = try await harness.subscribe(2, second, type: type)
        harness.topic.flow(other, permits: 100)
        await harness.topic.removeConsumer(consumer)
        // At once: not when dispatch next wakes for a new entry (it waits up to 5 s).
        try await Self.waitFor("the four messages handed over", within: .seconds(2)) { second.deliveries.count >= 4 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(second.deliveries.map(\.position).sorted() == positions, "what the consumer that left had not acknowledged, once each")
        await harness.shutdown()
    }

    /// A read that fails (every bookie refuses it) is tried again after the retry delay on
    /// the topic's clock, not before.
    @Test func aFailedDispatchReadIsRetriedAfterItsDelayOnTheTopicsClock() async throws {
        let clock = ManualClock()
        let harness = try await Harness.make(clock: clock)
        let positions = try await harness.publish(2)
        for bookie in harness.cluster.bookies {
            bookie.setFault { request in
                if case .read = request { return .fail(.ioError) }
                return nil
            }
        }
        let sink = RecordingSink()
        let consumer = try await harness.subscribe(1, sink)
        harness.topic.flow(consumer, permits: 10)
        #expect(await clock.waitForSleepers(1), "dispatch waits on the topic's clock after the failed read")
        for bookie in harness.cluster.bookies { bookie.setFault(nil) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(sink.deliveries.isEmpty, "nothing is read again before the delay")
        clock.advance(by: Subscription.retryDelay)
        try await Self.waitFor("the messages after the retry") { sink.deliveries.count == 2 }
        #expect(sink.deliveries.map(\.position) == positions)
        await harness.shutdown()
    }
}
