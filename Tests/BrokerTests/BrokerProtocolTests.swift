import ClusterTesting
import Codec
import Foundation
import NIOCore
import PulsarProto
import PulsarWire
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The broker's answers frame by frame, over a connection this test drives itself.
@Suite("Broker protocol, frame by frame", .timeLimit(.minutes(4)))
struct BrokerProtocolTests {
    static func command(_ type: Pulsar_Proto_BaseCommand.TypeEnum, _ fill: (inout Pulsar_Proto_BaseCommand) -> Void) -> Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        fill(&command)
        return command
    }

    static func producer(_ topic: String, id: UInt64, request: UInt64) -> Pulsar_Proto_BaseCommand {
        Self.command(.producer) {
            $0.producer.topic = topic
            $0.producer.producerID = id
            $0.producer.requestID = request
        }
    }

    static func subscribe(
        _ topic: String, _ subscription: String, type: Pulsar_Proto_CommandSubscribe.SubType, consumer: UInt64, name: String, request: UInt64
    ) -> Pulsar_Proto_BaseCommand {
        Self.command(.subscribe) {
            $0.subscribe.topic = topic
            $0.subscribe.subscription = subscription
            $0.subscribe.subType = type
            $0.subscribe.consumerID = consumer
            $0.subscribe.consumerName = name
            $0.subscribe.requestID = request
            $0.subscribe.initialPosition = .earliest
        }
    }

    static func flow(_ consumer: UInt64, _ permits: UInt32) -> Pulsar_Proto_BaseCommand {
        Self.command(.flow) {
            $0.flow.consumerID = consumer
            $0.flow.messagePermits = permits
        }
    }

    /// Sends one message as `producer` and waits for its receipt.
    static func publish(_ client: RawPulsarClient, producer: UInt64, sequence: UInt64, payload: ByteBuffer) async throws {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "raw-\(producer)"
        metadata.sequenceID = sequence
        metadata.publishTime = UInt64(Date().timeIntervalSince1970 * 1000)
        let send = Self.command(.send) {
            $0.send.producerID = producer
            $0.send.sequenceID = sequence
        }
        try await client.send(send, metadata: metadata, payload: payload)
        let receipt = try await client.next(.sendReceipt)
        #expect(receipt.command.sendReceipt.sequenceID == sequence)
    }

    @Test func requestsItDoesNotServeGetAnAnswerInTheirOwnType() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-unsupported")
        defer { cluster.stop() }
        let client = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await client.close() } }

        try await client.send(Self.command(.newTxn) { $0.newTxn.requestID = 5 })
        let newTxn = try await client.next()
        #expect(newTxn.command.type == .newTxnResponse)
        #expect(newTxn.command.newTxnResponse.requestID == 5 && newTxn.command.newTxnResponse.error == .transactionCoordinatorNotFound)

        try await client.send(Self.command(.endTxn) {
            $0.endTxn.requestID = 6
            $0.endTxn.txnidLeastBits = 11
            $0.endTxn.txnidMostBits = 1
        })
        let endTxn = try await client.next()
        #expect(endTxn.command.type == .endTxnResponse)
        #expect(endTxn.command.endTxnResponse.requestID == 6 && endTxn.command.endTxnResponse.txnidLeastBits == 11)
        #expect(endTxn.command.endTxnResponse.error == .transactionCoordinatorNotFound)

        try await client.send(Self.command(.addPartitionToTxn) { $0.addPartitionToTxn.requestID = 7 })
        #expect(try await client.next().command.addPartitionToTxnResponse.requestID == 7)

        try await client.send(Self.command(.tcClientConnectRequest) {
            $0.tcClientConnectRequest.requestID = 8
            $0.tcClientConnectRequest.tcID = 0
        })
        let tc = try await client.next()
        #expect(tc.command.type == .tcClientConnectResponse && tc.command.tcClientConnectResponse.requestID == 8)

        try await client.send(Self.command(.getOrCreateSchema) {
            $0.getOrCreateSchema.requestID = 9
            $0.getOrCreateSchema.topic = "persistent://public/default/raw"
            $0.getOrCreateSchema.schema.name = "s"
            $0.getOrCreateSchema.schema.schemaData = Data()
            $0.getOrCreateSchema.schema.type = .string
        })
        let schema = try await client.next()
        #expect(schema.command.type == .getOrCreateSchemaResponse && schema.command.getOrCreateSchemaResponse.requestID == 9)
        #expect(schema.command.getOrCreateSchemaResponse.errorCode == .notAllowedError)

        // A command the broker has no handler for gets an ERROR, and the connection goes on.
        try await client.send(Self.command(.authResponse) { $0.authResponse.response.authMethodName = "none" })
        #expect(try await client.next().command.type == .error)
        try await client.send(Self.command(.ping) { $0.ping = Pulsar_Proto_CommandPing() })
        #expect(try await client.next().command.type == .pong)
    }

    /// A message that fails its checksum gets SEND_ERROR ChecksumError and the connection
    /// goes on; an oversize frame or garbage closes only its own connection.
    @Test func badFramesCostOnlyThemselves() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-bad-frames")
        defer { cluster.stop() }
        let topic = "persistent://public/default/bad-frames"
        let client = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await client.close() } }
        try await client.send(Self.producer(topic, id: 1, request: 1))
        _ = try await client.next(.producerSuccess)

        var corrupt = try RawPulsarClient.sendFrame(producer: 1, sequence: 0, payload: ByteBuffer(string: "payload"))
        let last = corrupt.writerIndex - 1
        corrupt.setInteger(corrupt.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        try await client.sendRaw(corrupt)
        let refused = try await client.next()
        #expect(refused.command.type == .sendError && refused.command.sendError.error == .checksumError)
        #expect(refused.command.sendError.sequenceID == 0)
        try await Self.publish(client, producer: 1, sequence: 1, payload: ByteBuffer(string: "good"))

        // Over the announced 5 MiB: the connection closes before the body is read.
        let oversize = try await RawPulsarClient.connect(port: cluster.port)
        var header = ByteBuffer()
        header.writeMultipleIntegers(UInt32(64 << 20), UInt32(8))
        try await oversize.sendRaw(header)
        #expect(try await oversize.next(timeout: .seconds(10)).command.type == .error, "the broker says why it closes")
        let oversizeClosed = await #expect(throws: TestHarnessError.self) { _ = try await oversize.next(timeout: .seconds(10)) }
        #expect(oversizeClosed?.description.contains("closed") == true, "\(String(describing: oversizeClosed))")

        let garbage = try await RawPulsarClient.connect(port: cluster.port)
        var junk = ByteBuffer()
        junk.writeMultipleIntegers(UInt32(12), UInt32(8))
        junk.writeBytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        try await garbage.sendRaw(junk)
        #expect(try await garbage.next(timeout: .seconds(10)).command.type == .error, "the broker says why it closes")
        let garbageClosed = await #expect(throws: TestHarnessError.self) { _ = try await garbage.next(timeout: .seconds(10)) }
        #expect(garbageClosed?.description.contains("closed") == true, "\(String(describing: garbageClosed))")

        // The first connection still works.
        try await Self.publish(client, producer: 1, sequence: 2, payload: ByteBuffer(string: "still good"))
        try await client.send(Self.subscribe(topic, "s", type: .exclusive, consumer: 1, name: "c", request: 2))
        _ = try await client.next(.success)
        try await client.send(Self.flow(1, 10))
        var bodies: [String] = []
        for _ in 0..<2 {
            let message = try await client.next(.message)
            let payload = try #require(message.payload)
            let plain = try CompressionType(rawValue: Int32(payload.metadata.compression.rawValue))!
                .decompress(payload.payload, uncompressedSize: Int(payload.metadata.uncompressedSize))
            bodies.append(String(buffer: plain))
        }
        #expect(bodies == ["good", "still good"])
    }

    /// A batch the client sent uncompressed is stored LZ4-compressed (the default policy):
    /// a consumer receives it compressed, with its metadata and checksum rewritten. In a
    /// namespace whose policy is `none` it is stored as sent.
    @Test func uncompressedBatchesAreStoredCompressed() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-compression")
        defer { cluster.stop() }
        _ = try await cluster.http("PUT", "/admin/v2/namespaces/public/plain")
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/plain/storageCompression", body: "\"none\"").status == 204)
        let client = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await client.close() } }
        let original = ByteBuffer(repeating: UInt8(ascii: "a"), count: 10_000)

        for (index, (topic, expected)) in [("persistent://public/default/squeezed", CompressionType.lz4), ("persistent://public/plain/as-sent", .none)]
            .enumerated()
        {
            let id = UInt64(index + 1)
            try await client.send(Self.producer(topic, id: id, request: 10 * id))
            #expect(try await client.next(.producerSuccess).command.producerSuccess.requestID == 10 * id)
            try await Self.publish(client, producer: id, sequence: 0, payload: original)
            try await client.send(Self.subscribe(topic, "s", type: .exclusive, consumer: id, name: "c", request: 10 * id + 1))
            #expect(try await client.next(.success).command.success.requestID == 10 * id + 1)
            try await client.send(Self.flow(id, 10))
            let message = try await client.next(.message)
            let payload = try #require(message.payload)
            #expect(payload.checksumValid && payload.checksum != nil)
            #expect(payload.metadata.compression.rawValue == Int(expected.rawValue))
            if expected == .none {
                #expect(payload.payload == original)
            } else {
                #expect(payload.metadata.uncompressedSize == 10_000)
                #expect(payload.payload.readableBytes < 1_000, "stored \(payload.payload.readableBytes) bytes")
                #expect(try expected.decompress(payload.payload, uncompressedSize: 10_000) == original)
            }
        }
    }

    /// Two Failover consumers: each hears whether it is active, only the active one
    /// receives, and when it closes the other is told and gets what was not acked.
    @Test func failoverConsumersHearWhichIsActive() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-failover")
        defer { cluster.stop() }
        let topic = "persistent://public/default/failover"
        let first = try await RawPulsarClient.connect(port: cluster.port)
        let second = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await first.close(); await second.close() } }

        try await first.send(Self.subscribe(topic, "f", type: .failover, consumer: 1, name: "b", request: 1))
        #expect(try await first.next().command.type == .success)
        let alone = try await first.next(.activeConsumerChange).command.activeConsumerChange
        #expect(alone.consumerID == 1 && alone.isActive)

        // "a" ranks before "b": it becomes active and "b" hears it is not.
        try await second.send(Self.subscribe(topic, "f", type: .failover, consumer: 2, name: "a", request: 2))
        #expect(try await second.next().command.type == .success)
        #expect(try await second.next(.activeConsumerChange).command.activeConsumerChange.isActive)
        #expect(try await first.next(.activeConsumerChange).command.activeConsumerChange.isActive == false)

        try await first.send(Self.flow(1, 100))
        try await second.send(Self.flow(2, 100))
        try await first.send(Self.producer(topic, id: 9, request: 3))
        _ = try await first.next(.producerSuccess)
        for sequence in 0..<3 {
            try await Self.publish(first, producer: 9, sequence: UInt64(sequence), payload: ByteBuffer(string: "m\(sequence)"))
        }
        var received: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<3 { received.append(try await second.next(.message).command.message.messageID) }

        try await second.send(Self.command(.closeConsumer) {
            $0.closeConsumer.consumerID = 2
            $0.closeConsumer.requestID = 4
        })
        #expect(try await first.next(.activeConsumerChange).command.activeConsumerChange.isActive)
        var redelivered: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<3 {
            let message = try await first.next(.message).command.message
            #expect(message.redeliveryCount >= 1)
            redelivered.append(message.messageID)
        }
        #expect(redelivered.map(\.entryID) == received.map(\.entryID))
    }

    /// Namespace policies over REST: create, list, persistence and compression with their
    /// errors; a topic created afterwards uses the namespace's persistence.
    @Test func namespacePoliciesDecideWhereLedgersGo() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-policies")
        defer { cluster.stop() }
        let defaults = try await cluster.http("GET", "/admin/v2/namespaces/public/default/persistence")
        #expect(defaults.status == 200)
        let persistence = try JSONSerialization.jsonObject(with: Data(defaults.body.utf8)) as? [String: Any]
        #expect(persistence?["bookkeeperEnsemble"] as? Int == 2 && persistence?["bookkeeperAckQuorum"] as? Int == 2)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/public/default/storageCompression").body == "\"lz4\"")

        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/triple").status == 204)
        #expect(try await cluster.http("PUT", "/admin/v2/namespaces/public/triple").status == 409)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/public").body == "[\"public/default\",\"public/triple\"]")
        let three = "{\"bookkeeperEnsemble\":3,\"bookkeeperWriteQuorum\":3,\"bookkeeperAckQuorum\":3}"
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/triple/persistence", body: three).status == 204)
        let bad = "{\"bookkeeperEnsemble\":2,\"bookkeeperWriteQuorum\":3,\"bookkeeperAckQuorum\":1}"
        let refused = try await cluster.http("POST", "/admin/v2/namespaces/public/triple/persistence", body: bad)
        #expect(refused.status == 412 && refused.body.contains("reason"))
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/triple/persistence", body: "three").status == 400)
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/absent/persistence", body: three).status == 404)
        #expect(try await cluster.http("POST", "/admin/v2/namespaces/public/triple/storageCompression", body: "gzip").status == 412)
        #expect(try await cluster.http("GET", "/admin/v2/namespaces/public/triple/persistence").body.contains("\"bookkeeperEnsemble\":3"))

        let client = try await RawPulsarClient.connect(port: cluster.port)
        defer { Task { await client.close() } }
        try await client.send(Self.producer("persistent://public/triple/t", id: 1, request: 1))
        _ = try await client.next(.producerSuccess)
        try await Self.publish(client, producer: 1, sequence: 0, payload: ByteBuffer(string: "x"))
        let ledger = try await BrokerCrashTests.currentLedger(topic: "public/triple/persistent/t", metadataURL: cluster.bookies.metadataURL)
        #expect(ledger["ensembleSize"] as? Int == 3 && ledger["writeQuorum"] as? Int == 3 && ledger["ackQuorum"] as? Int == 3, "\(ledger)")
    }
}

extension BrokerCluster {
    /// One request to the broker's REST API; returns the status and body.
    func http(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
        try await RESTRequest.send(method, "http://127.0.0.1:\(self.httpPort)\(path)", body: body)
    }
}
