@testable import Broker
import Codec
import LedgerTesting
import Logging
import ManagedLedger
import PulsarProto
import PulsarWire
import Testing

extension TopicDispatchTests {
    /// A client resubscribing a durable subscription on the topic's next owner sends the
    /// id of the last message it took (the C++ client does). Pulsar ignores a start
    /// message id for durable subscriptions: the cursor decides. Moving the cursor there
    /// instead acknowledged every message before it that the subscription had not
    /// acknowledged, and the next owner trimmed them.
    @Test func aDurableSubscriptionResubscribedWithAStartIdKeepsItsUnacknowledgedMessages() async throws {
        let harness = try await Harness.make()
        let positions = try await harness.publish(5)
        let sink = RecordingSink()
        let consumer = try await harness.subscribe(1, sink, type: .exclusive)
        harness.topic.flow(consumer, permits: 10)
        try await Self.waitFor("five messages") { sink.deliveries.count == 5 }
        // Every message but the third is acknowledged.
        let acked = [positions[0], positions[1], positions[3], positions[4]]
        let refusal: BrokerError? = await withCheckedContinuation { continuation in
            harness.topic.ack(consumer, acked.map { AckedMessage(position: $0) }, cumulative: false) { continuation.resume(returning: $0) }
        }
        #expect(refusal == nil)
        await harness.topic.closeAndWait(.unloaded)

        // The next owner loads the topic; the client resubscribes from its last message.
        let ledger = try await ManagedLedger.open(
            name: "t/ns/persistent/dispatch", client: harness.cluster.client(), metadata: harness.cluster.metadata, configuration: ManagedLedgerConfiguration()
        )
        let topic = Topic(name: try TopicName("persistent://t/ns/dispatch"), ledger: ledger, compression: .none, logger: Logger(label: "test"))
        var request = Pulsar_Proto_CommandSubscribe()
        request.topic = "persistent://t/ns/dispatch"
        request.subscription = "s"
        request.subType = .exclusive
        request.consumerID = 2
        request.consumerName = "c2"
        request.durable = true
        request.startMessageID.ledgerID = UInt64(positions[4].ledgerID)
        request.startMessageID.entryID = UInt64(positions[4].entryID)
        let again = RecordingSink()
        let resubscribed = try await topic.subscribe(SubscribeRequest(request), sink: again)
        topic.flow(resubscribed, permits: 10)
        try await Self.waitFor("the unacknowledged message") { !again.deliveries.isEmpty }
        try await Task.sleep(for: .milliseconds(100))
        #expect(again.deliveries.map(\.position) == [positions[2]])
        await topic.closeAndWait(.shutdown)
        await harness.cluster.shutdown()
    }
}
