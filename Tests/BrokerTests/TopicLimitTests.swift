@testable import Broker
import Ledger
import Logging
import ManagedLedger
import Metadata
import PulsarProto
import PulsarWire
import Testing

/// Pulsar's per-topic and per-namespace limits, and topics only in namespaces that exist.
@Suite(.timeLimit(.minutes(1)))
struct TopicLimitTests {
    typealias Harness = TopicDispatchTests.Harness
    typealias Sink = TopicDispatchTests.RecordingSink

    static func limited(_ harness: Harness, _ limits: TopicPolicies.Limits) async throws {
        var policies = TopicPolicies()
        policies.limits = limits
        try await harness.topic.apply(policies)
    }

    static func subscription(_ name: String, consumer: UInt64) -> SubscribeRequest {
        var request = Pulsar_Proto_CommandSubscribe()
        request.topic = "persistent://t/ns/dispatch"
        request.subscription = name
        request.subType = .shared
        request.consumerID = consumer
        request.consumerName = "c\(consumer)"
        return SubscribeRequest(request)
    }

    /// The code of the BrokerError `body` throws; nil when it throws none.
    static func code(_ body: () async throws -> Void) async -> BrokerError.Code? {
        do {
            try await body()
            return nil
        } catch let error as BrokerError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func aTopicAtItsProducerLimitRefusesTheNextWithProducerBusy() async throws {
        let harness = try await Harness.make()
        try await Self.limited(harness, .init(producers: 2))
        _ = try await harness.topic.addProducer(
            name: nil, accessMode: .shared, connection: ObjectIdentifier(harness.cluster), producerID: 2, requestID: 2, brokerName: "b", sink: Sink()
        )
        #expect(await Self.code {
            _ = try await harness.topic.addProducer(
                name: nil, accessMode: .shared, connection: ObjectIdentifier(harness.cluster), producerID: 3, requestID: 3, brokerName: "b", sink: Sink()
            )
        } == .producerBusy)
        await harness.shutdown()
    }

    @Test func consumerAndSubscriptionLimitsRefuseTheNext() async throws {
        let harness = try await Harness.make()
        try await Self.limited(harness, .init(consumers: 5, consumersPerSubscription: 3, subscriptions: 2))
        _ = try await harness.topic.subscribe(Self.subscription("a", consumer: 1), sink: Sink())
        _ = try await harness.topic.subscribe(Self.subscription("a", consumer: 2), sink: Sink())
        _ = try await harness.topic.subscribe(Self.subscription("a", consumer: 3), sink: Sink())
        #expect(await Self.code {
            _ = try await harness.topic.subscribe(Self.subscription("a", consumer: 7), sink: Sink())
        } == .consumerBusy, "a fourth consumer on subscription a")
        _ = try await harness.topic.subscribe(Self.subscription("b", consumer: 4), sink: Sink())
        #expect(await Self.code {
            _ = try await harness.topic.subscribe(Self.subscription("c", consumer: 5), sink: Sink())
        } == .notAllowed, "a third subscription")
        _ = try await harness.topic.subscribe(Self.subscription("b", consumer: 6), sink: Sink())
        #expect(await Self.code {
            _ = try await harness.topic.subscribe(Self.subscription("b", consumer: 8), sink: Sink())
        } == .consumerBusy, "a sixth consumer on the topic")
        await harness.shutdown()
    }

    @Test func aNamespaceAtItsTopicLimitRefusesANewTopicButLoadsItsOwn() async throws {
        let metadata = MemoryMetadataStore()
        for local in ["x", "y"] {
            _ = try await metadata.put(ClusterLayout.managedLedger("t/ns/persistent/\(local)"), value: [], expecting: .absent)
        }
        let existing = try TopicName("persistent://t/ns/x")
        try await BrokerContext.checkRoom(for: existing, metadata: metadata, maxTopicsPerNamespace: 2)
        #expect(await Self.code {
            try await BrokerContext.checkRoom(for: try TopicName("persistent://t/ns/z"), metadata: metadata, maxTopicsPerNamespace: 2)
        } == .notAllowed)
        try await BrokerContext.checkRoom(for: try TopicName("persistent://t/ns/z"), metadata: metadata, maxTopicsPerNamespace: 0)
    }

    @Test func aTopicInANamespaceThatDoesNotExistIsNotFound() async throws {
        let metadata = try await BrokerMembershipTests.store()
        let (broker, _) = BrokerMembershipTests.broker(0, metadata)
        #expect(await Self.code { _ = try await broker.bundle(of: try TopicName("persistent://nobody/nowhere/t")) } == .notFound)
        #expect(await Self.code { _ = try await broker.bundle(of: try TopicName("persistent://public/nowhere/t")) } == .notFound)
        _ = try await broker.bundle(of: try TopicName("persistent://public/default/t"))
    }
}

/// maxUnackedMessagesPerConsumer and …PerSubscription on Shared subscriptions.
@Suite(.timeLimit(.minutes(1)))
struct UnackedLimitTests {
    typealias Harness = TopicDispatchTests.Harness
    typealias Sink = TopicDispatchTests.RecordingSink

    @Test func aSharedConsumerAtItsUnackedLimitGetsNothingMoreUntilHalfAreAcked() async throws {
        let harness = try await Harness.make()
        try await TopicLimitTests.limited(harness, .init(unackedPerConsumer: 4))
        let positions = try await harness.publish(10)
        let sink = Sink()
        let consumer = try await harness.subscribe(1, sink, type: .shared)
        harness.topic.flow(consumer, permits: 100)
        try await TopicDispatchTests.waitFor("four messages") { sink.deliveries.count == 4 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(sink.deliveries.count == 4, "no more than the limit while none is acked")
        let acked = await withCheckedContinuation { continuation in
            harness.topic.ack(consumer, positions.prefix(2).map { AckedMessage(position: $0) }, cumulative: false) { continuation.resume(returning: $0) }
        }
        #expect(acked == nil)
        try await TopicDispatchTests.waitFor("more after half were acked") { sink.deliveries.count > 4 }
        await harness.shutdown()
    }

    @Test func anExclusiveReaderIsNotHeldToIt() async throws {
        let harness = try await Harness.make()
        try await TopicLimitTests.limited(harness, .init(unackedPerConsumer: 4, unackedPerSubscription: 4))
        _ = try await harness.publish(10)
        let sink = Sink()
        let consumer = try await harness.subscribe(1, sink, type: .exclusive)
        harness.topic.flow(consumer, permits: 100)
        try await TopicDispatchTests.waitFor("all ten") { sink.deliveries.count == 10 }
        await harness.shutdown()
    }
}
