import ClusterTesting
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// Redelivery of named messages, frame by frame: what a consumer asks for again is sent
/// again, and what it still holds stays accounted for.
@Suite("Broker redelivery, frame by frame", .timeLimit(.minutes(4)))
struct BrokerRedeliveryTests {
    typealias Frames = BrokerProtocolTests

    /// A consumer of a Shared or Key_Shared subscription holds four messages and asks for
    /// one of them again (a negative ack): that one comes again, with its redelivery count.
    /// The other three are still its own, unacknowledged: when its connection goes, all
    /// four go to the other consumer of the subscription.
    @Test(arguments: [Pulsar_Proto_CommandSubscribe.SubType.shared, .keyShared])
    func namedRedeliveryKeepsTheConsumersOtherMessages(_ type: Pulsar_Proto_CommandSubscribe.SubType) async throws {
        let cluster = try await BrokerCluster.start(label: "raw-named-redelivery", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/named-redelivery"
        let producer = try await RawPulsarClient.connect(port: cluster.port)
        try await producer.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await producer.next(.producerSuccess)

        let first = try await RawPulsarClient.connect(port: cluster.port)
        try await first.send(Frames.subscribe(topic, "s", type: type, consumer: 1, name: "a", request: 1))
        _ = try await first.next(.success)
        try await first.send(Frames.flow(1, 100))

        try await BrokerSafetyTests.send(producer, producer: 1, 0..<4)
        #expect(try await BrokerSafetyTests.answers(producer, producer: 1, count: 4).receipted == Array(0..<4))
        var ids: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<4 { ids.append(try await first.next(.message).command.message.messageID) }

        try await first.send(Frames.command(.redeliverUnacknowledgedMessages) {
            $0.redeliverUnacknowledgedMessages.consumerID = 1
            $0.redeliverUnacknowledgedMessages.messageIds = [ids[0]]
        })
        let again = try await first.next(.message)
        #expect(again.command.message.messageID.entryID == ids[0].entryID && again.command.message.redeliveryCount == 1)
        #expect(await BrokerSafetyTests.bodies(first, upTo: 1, quiet: .seconds(2)).isEmpty, "only the named message comes again")

        let second = try await RawPulsarClient.connect(port: cluster.port)
        try await second.send(Frames.subscribe(topic, "s", type: type, consumer: 2, name: "b", request: 1))
        _ = try await second.next(.success)
        try await second.send(Frames.flow(2, 100))
        await first.close()

        let handedOver = await BrokerSafetyTests.bodies(second, upTo: 5, quiet: .seconds(5))
        #expect(handedOver.sorted() == ["m0", "m1", "m2", "m3"], "what the consumer that left had not acknowledged")
        await second.close()
        await producer.close()
    }
}
