import ClusterTesting
import NIOCore
import PulsarProto
import PulsarWire
import Testing

extension BrokerSeekTests {
    /// Seeking by message id lands exactly: after a seek to the third message the next one
    /// delivered is that message, and after a seek to message 3 of a batch of six the batch
    /// comes with messages 0 to 2 masked out (ack_set bits 3 to 5 set), then what follows.
    @Test func aSeekByMessageIDLandsOnThatMessage() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-seek-exact", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/seek-exact"
        let producer = try await RawPulsarClient.connect(port: cluster.port)
        try await producer.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await producer.next(.producerSuccess)
        try await BrokerSafetyTests.send(producer, producer: 1, 0..<5)
        _ = try await BrokerSafetyTests.answers(producer, producer: 1, count: 5)
        try await Self.publishBatch(producer, producer: 1, sequence: 5, messages: 6)
        try await BrokerSafetyTests.send(producer, producer: 1, 11..<12)
        _ = try await BrokerSafetyTests.answers(producer, producer: 1, count: 1)

        let consumer = try await RawPulsarClient.connect(port: cluster.port)
        let subscribe = Frames.subscribe(topic, "s", type: .exclusive, consumer: 1, name: "c", request: 1)
        try await consumer.send(subscribe)
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        var ids: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<7 { ids.append(try await consumer.next(.message).command.message.messageID) }

        try await consumer.send(Self.seek(consumer: 1, request: 2, to: ids[2]))
        _ = try await Self.frames(consumer, throughAnswerTo: 2)
        var again = subscribe
        again.subscribe.requestID = 3
        try await consumer.send(again)
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        let afterSeek = try await consumer.next(.message).command.message
        #expect(afterSeek.messageID.entryID == ids[2].entryID, "a seek to entry \(ids[2].entryID) delivers \(afterSeek.messageID.entryID) first")
        for _ in 3..<7 { _ = try await consumer.next(.message) }

        var inBatch = ids[5]
        inBatch.batchIndex = 3
        inBatch.batchSize = 6
        try await consumer.send(Self.seek(consumer: 1, request: 4, to: inBatch))
        _ = try await Self.frames(consumer, throughAnswerTo: 4)
        again.subscribe.requestID = 5
        try await consumer.send(again)
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        let batch = try await consumer.next(.message).command.message
        #expect(batch.messageID.entryID == ids[5].entryID)
        #expect(batch.ackSet == [0b111000], "messages 0 to 2 of the batch are masked out: ack_set \(batch.ackSet)")
        let following = try await consumer.next(.message).command.message
        #expect(following.messageID.entryID == ids[6].entryID)
        await consumer.close()
        await producer.close()
    }

    /// Publishes one batch entry of `messages` messages and waits for its receipt.
    static func publishBatch(_ client: RawPulsarClient, producer: UInt64, sequence: UInt64, messages: Int32) async throws {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "raw-\(producer)"
        metadata.sequenceID = sequence
        metadata.publishTime = 1
        metadata.numMessagesInBatch = messages
        var payload = ByteBuffer()
        for index in 0..<messages {
            // SingleMessageMetadata with payload_size (field 3, a varint) 2.
            let single: [UInt8] = [0x18, 0x02]
            payload.writeInteger(UInt32(single.count))
            payload.writeBytes(single)
            payload.writeString("b\(index)")
        }
        let send = Frames.command(.send) {
            $0.send.producerID = producer
            $0.send.sequenceID = sequence
            $0.send.numMessages = messages
        }
        try await client.send(send, metadata: metadata, payload: payload)
        #expect(try await client.next(.sendReceipt).command.sendReceipt.sequenceID == sequence)
    }
}
