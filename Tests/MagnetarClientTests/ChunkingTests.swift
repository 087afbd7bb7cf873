import ClusterTesting
import MagnetarClient
import NIOCore
import Testing

/// Messages above the broker's 5 MiB limit, sent in chunks and put back together.
@Suite("Chunking", .timeLimit(.minutes(1)))
struct ChunkingTests {
    static let size = 6 << 20 + 12_345

    /// The test message: byte i is (i * 31 + i / 7) mod 251, as `chunks.py` expects.
    static let big: ByteBuffer = {
        let bytes = [UInt8](unsafeUninitializedCapacity: Self.size) { buffer, count in
            for index in 0..<Self.size { buffer[index] = UInt8(truncatingIfNeeded: (index &* 31 &+ index / 7) % 251) }
            count = Self.size
        }
        return ByteBuffer(bytes: bytes)
    }()

    static func payload(_ size: Int) -> ByteBuffer { Self.big }

    @Test func assemblerJoinsChunksInOrderAndDropsBrokenOnes() {
        var assembler = ChunkAssembler(maxPending: 2)
        let id = { (entry: Int64) in MessageID(ledgerID: 1, entryID: entry) }
        #expect(assembler.add(uuid: "a", index: 0, count: 2, totalSize: 6, bytes: ByteBuffer(string: "abc"), id: id(0)).assembled == nil)
        // A chunk of another message in between is fine.
        #expect(assembler.add(uuid: "b", index: 0, count: 2, totalSize: 2, bytes: ByteBuffer(string: "x"), id: id(1)).assembled == nil)
        let done = assembler.add(uuid: "a", index: 1, count: 2, totalSize: 6, bytes: ByteBuffer(string: "def"), id: id(2)).assembled
        #expect(done.map { String(buffer: $0.payload) } == "abcdef")
        #expect(done?.chunks == [id(0), id(2)])
        // Out of order: what was gathered is dropped.
        let broken = assembler.add(uuid: "b", index: 2, count: 2, totalSize: 2, bytes: ByteBuffer(string: "z"), id: id(3))
        #expect(broken.assembled == nil && broken.dropped == [id(1), id(3)])
        #expect(assembler.pendingCount == 0)
        // Past the limit the oldest gathering goes.
        _ = assembler.add(uuid: "c", index: 0, count: 3, totalSize: 3, bytes: ByteBuffer(string: "1"), id: id(4))
        _ = assembler.add(uuid: "d", index: 0, count: 3, totalSize: 3, bytes: ByteBuffer(string: "1"), id: id(5))
        #expect(assembler.add(uuid: "e", index: 0, count: 3, totalSize: 3, bytes: ByteBuffer(string: "1"), id: id(6)).dropped == [id(4)])
    }

    @Test(arguments: [MessageCompression.none, .lz4])
    func swiftChunksReachSwiftAndPython(compression: MessageCompression) async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("chunks-\(compression)")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(topic: topic, subscription: "swift", configuration: ConsumerConfiguration(initialPosition: .earliest))
        let plain = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(compression: compression))
        let tooBig = await #expect(throws: PulsarClientError.self) { try await plain.send(OutgoingMessage(payload: Self.payload(Self.size))) }
        #expect(tooBig?.code == .messageTooBig)
        await plain.close()

        let producer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(compression: compression, chunking: true))
        try await producer.send("before")
        let id = try await producer.send(OutgoingMessage(payload: Self.payload(Self.size), key: "big", properties: ["kind": "chunked"]))
        try await producer.send("after")
        #expect(try await consumer.receive().text == "before")
        let big = try await consumer.receive()
        #expect(big.payload == Self.payload(Self.size))
        #expect(big.key == "big" && big.properties == ["kind": "chunked"])
        #expect(big.id == id)
        consumer.acknowledge(big)
        #expect(try await consumer.receive().text == "after")
        await consumer.close()

        let forPython = try await client.createProducer(topic: topic + "-py", configuration: ProducerConfiguration(compression: compression, chunking: true))
        try await forPython.send(OutgoingMessage(payload: Self.payload(Self.size)))
        await forPython.close()
        let python = try await cluster.python("chunks.py", ["consume", cluster.serviceURL, topic + "-py", "python", "\(Self.size)"])
        #expect(python.status == 0 && python.output.contains("OK \(Self.size)"), "\(python.output.suffix(1500))")
    }

    @Test func pythonChunksReachSwift() async throws {
        let cluster = try await SharedCluster.get()
        let topic = uniqueTopic("py-chunks")
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let consumer = try await client.subscribe(topic: topic, subscription: "swift", configuration: ConsumerConfiguration(initialPosition: .earliest))
        let produced = try await cluster.python("chunks.py", ["produce", cluster.serviceURL, topic, "\(Self.size)"])
        #expect(produced.status == 0, "\(produced.output.suffix(1500))")
        let message = try await consumer.receive()
        #expect(message.payload.readableBytes == Self.size)
        #expect(message.payload == Self.payload(Self.size))
        consumer.acknowledge(message)
        await consumer.close()
    }
}
