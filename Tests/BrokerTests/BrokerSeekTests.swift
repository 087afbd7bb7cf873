import ClusterTesting
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// SEEK, frame by frame: who is told to subscribe again, in what order, and where the
/// subscription then reads from.
@Suite("Broker seek, frame by frame", .timeLimit(.minutes(4)))
struct BrokerSeekTests {
    typealias Frames = BrokerProtocolTests

    static func seek(consumer: UInt64, request: UInt64, to id: Pulsar_Proto_MessageIdData) -> Pulsar_Proto_BaseCommand {
        Frames.command(.seek) {
            $0.seek.consumerID = consumer
            $0.seek.requestID = request
            $0.seek.messageID = id
        }
    }

    static func seek(consumer: UInt64, request: UInt64, publishTime: UInt64) -> Pulsar_Proto_BaseCommand {
        Frames.command(.seek) {
            $0.seek.consumerID = consumer
            $0.seek.requestID = request
            $0.seek.messagePublishTime = publishTime
        }
    }

    /// The frames up to and including the answer to request `request` (SUCCESS or ERROR),
    /// then those the broker wrote before it answered a PING sent after that answer. (A
    /// PING, not a timeout: a timeout ends the client's stream of frames.)
    static func frames(_ client: RawPulsarClient, throughAnswerTo request: UInt64) async throws -> [Pulsar_Proto_BaseCommand] {
        var frames: [Pulsar_Proto_BaseCommand] = []
        while true {
            let command = try await client.next().command
            frames.append(command)
            if (command.type == .success && command.success.requestID == request) || (command.type == .error && command.error.requestID == request) { break }
        }
        try await client.send(Frames.command(.ping) { $0.ping = Pulsar_Proto_CommandPing() })
        while true {
            let command = try await client.next().command
            if command.type == .pong { return frames }
            frames.append(command)
        }
    }

    /// Two consumers of a Shared subscription on two connections; one seeks. Each hears
    /// CLOSE_CONSUMER with its own id on its own connection, and the seeking one hears it
    /// before the seek's SUCCESS: its client then resubscribes before it completes the seek.
    @Test func aSeekClosesEachConsumerOnItsOwnConnection() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-seek-connections", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/seek-connections"
        let seeking = try await RawPulsarClient.connect(port: cluster.port)
        let other = try await RawPulsarClient.connect(port: cluster.port)
        try await seeking.send(Frames.subscribe(topic, "s", type: .shared, consumer: 1, name: "a", request: 1))
        _ = try await seeking.next(.success)
        try await other.send(Frames.subscribe(topic, "s", type: .shared, consumer: 7, name: "b", request: 1))
        _ = try await other.next(.success)

        try await seeking.send(Self.seek(consumer: 1, request: 2, publishTime: 0))
        let seen = try await Self.frames(seeking, throughAnswerTo: 2)
        let closes = seen.filter { $0.type == .closeConsumer }.map(\.closeConsumer.consumerID)
        #expect(closes == [1], "CLOSE_CONSUMER on the seeking connection: \(seen.map(\.type))")
        let closeIndex = seen.firstIndex { $0.type == .closeConsumer }
        let successIndex = seen.firstIndex { $0.type == .success }
        #expect(closeIndex != nil && successIndex != nil && closeIndex! < successIndex!, "CLOSE_CONSUMER before SUCCESS: \(seen.map(\.type))")

        let otherClosed = try? await other.next(.closeConsumer, timeout: .seconds(5))
        #expect(otherClosed?.command.closeConsumer.consumerID == 7, "the other connection's consumer is told to subscribe again")
        await seeking.close()
        await other.close()
    }

    /// A reader (Exclusive, non-durable) seeks: it hears CLOSE_CONSUMER before SUCCESS,
    /// subscribes again, and its next request about the consumer is answered.
    @Test func aReaderThatSeeksIsServedAfterItSubscribesAgain() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-seek-reader", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/seek-reader"
        let producer = try await RawPulsarClient.connect(port: cluster.port)
        try await producer.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await producer.next(.producerSuccess)
        try await BrokerSafetyTests.send(producer, producer: 1, 0..<3)
        _ = try await BrokerSafetyTests.answers(producer, producer: 1, count: 3)

        let reader = try await RawPulsarClient.connect(port: cluster.port)
        var subscribe = Self.readerSubscribe(topic, request: 1)
        try await reader.send(subscribe)
        _ = try await reader.next(.success)
        try await reader.send(Self.seek(consumer: 0, request: 2, publishTime: 0))
        let seen = try await Self.frames(reader, throughAnswerTo: 2)
        #expect(seen.map(\.type) == [.closeConsumer, .success], "\(seen.map(\.type))")

        subscribe.subscribe.requestID = 3
        try await reader.send(subscribe)
        #expect(try await reader.next().command.type == .success)
        try await reader.send(Frames.command(.getLastMessageID) {
            $0.getLastMessageID.consumerID = 0
            $0.getLastMessageID.requestID = 4
        })
        let last = try await reader.next().command
        #expect(last.type == .getLastMessageIDResponse && last.getLastMessageIDResponse.lastMessageID.entryID == 2, "\(last)")
        await reader.close()
        await producer.close()
    }

    /// An acknowledgement still in flight from a consumer that a seek on another
    /// connection closed does not count: subscribed again, its client finds every message
    /// from the seek's target unacknowledged, the one it had acknowledged too.
    @Test func anAckFromAConsumerASeekClosedIsIgnored() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-seek-stale-ack", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/seek-stale-ack"
        let producer = try await RawPulsarClient.connect(port: cluster.port)
        try await producer.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await producer.next(.producerSuccess)
        try await BrokerSafetyTests.send(producer, producer: 1, 0..<3)
        _ = try await BrokerSafetyTests.answers(producer, producer: 1, count: 3)

        let other = try await RawPulsarClient.connect(port: cluster.port)
        let subscribe = Frames.subscribe(topic, "s", type: .shared, consumer: 7, name: "b", request: 1)
        try await other.send(subscribe)
        _ = try await other.next(.success)
        try await other.send(Frames.flow(7, 100))
        var ids: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<3 { ids.append(try await other.next(.message).command.message.messageID) }

        let seeking = try await RawPulsarClient.connect(port: cluster.port)
        try await seeking.send(Frames.subscribe(topic, "s", type: .shared, consumer: 1, name: "a", request: 1))
        _ = try await seeking.next(.success)
        try await seeking.send(Self.seek(consumer: 1, request: 2, publishTime: 0))
        _ = try await Self.frames(seeking, throughAnswerTo: 2)

        _ = try await other.next(.closeConsumer, timeout: .seconds(5))
        try await other.send(Frames.command(.ack) {
            $0.ack.consumerID = 7
            $0.ack.ackType = .individual
            $0.ack.messageID = [ids[1]]
        })
        var again = subscribe
        again.subscribe.requestID = 2
        try await other.send(again)
        _ = try await other.next(.success)
        try await other.send(Frames.command(.consumerStats) {
            $0.consumerStats.consumerID = 7
            $0.consumerStats.requestID = 3
        })
        let stats = try await other.next(.consumerStatsResponse).command.consumerStatsResponse
        #expect(stats.msgBacklog == 3, "all three messages are unacknowledged after the seek: \(stats)")
        try await other.send(Frames.flow(7, 100))
        let bodies = await BrokerSafetyTests.bodies(other, upTo: 4, quiet: .seconds(3))
        #expect(bodies == ["m0", "m1", "m2"], "after the seek, from its target on")
        await seeking.close()
        await other.close()
        await producer.close()
    }

    static func readerSubscribe(_ topic: String, request: UInt64) -> Pulsar_Proto_BaseCommand {
        Frames.command(.subscribe) {
            $0.subscribe.topic = topic
            $0.subscribe.subscription = "reader-1"
            $0.subscribe.subType = .exclusive
            $0.subscribe.consumerID = 0
            $0.subscribe.consumerName = "r"
            $0.subscribe.requestID = request
            $0.subscribe.durable = false
            $0.subscribe.startMessageID.ledgerID = .max
            $0.subscribe.startMessageID.entryID = .max
        }
    }
}
