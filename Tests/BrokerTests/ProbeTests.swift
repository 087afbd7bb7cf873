import BookieWire
import ClusterTesting
import Foundation
import NIOCore
import NIOPosix
import PulsarProto
import PulsarWire
import Testing

/// A real cluster probed as an attacker would: every input that once stopped a broker or
/// a bookie, random bytes, oversize frames, commands before CONNECT and 2,000 idle
/// sockets. Afterwards every process is the one started (none trapped and was restarted),
/// and the real Pulsar client produces and consumes on a fresh topic.
@Suite(.timeLimit(.minutes(5)))
struct ProbeTests {
    typealias Frames = BrokerProtocolTests

    static func id(_ ledger: UInt64, _ entry: UInt64) -> Pulsar_Proto_MessageIdData {
        var id = Pulsar_Proto_MessageIdData()
        id.ledgerID = ledger
        id.entryID = entry
        return id
    }

    /// Sends one message with `edit` applied to its metadata, as producer `producer`.
    static func send(_ client: RawPulsarClient, producer: UInt64, sequence: UInt64, _ edit: (inout Pulsar_Proto_MessageMetadata) -> Void) async throws {
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "probe-\(producer)"
        metadata.sequenceID = sequence
        metadata.publishTime = 1
        edit(&metadata)
        let send = Frames.command(.send) {
            $0.send.producerID = producer
            $0.send.sequenceID = sequence
        }
        try await client.send(send, metadata: metadata, payload: ByteBuffer(repeating: 7, count: 100))
    }

    /// Everything the binary protocol took from a client and once trapped on.
    static func probeBinaryProtocol(port: Int) async throws {
        // Random bytes, an oversize frame, a command before CONNECT: each on its own connection.
        var random = ByteBuffer()
        var generator = SplitMix64(seed: 25)
        for _ in 0..<(64 << 10) { random.writeInteger(UInt8(truncatingIfNeeded: generator.next())) }
        for bytes in [random, ByteBuffer(bytes: [0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 4, 1, 2, 3, 4])] {
            let client = try await RawPulsarClient.open(port: port)
            try await client.sendRaw(bytes)
            _ = try? await client.next(timeout: .seconds(2))
            await client.close()
        }
        let early = try await RawPulsarClient.open(port: port)
        try await early.send(Frames.producer("persistent://public/default/early", id: 1, request: 1))
        _ = try? await early.next(timeout: .seconds(2))
        await early.close()

        let client = try await RawPulsarClient.connect(port: port)
        let topic = "persistent://public/default/probed"
        try await client.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await client.next(.producerSuccess)
        // 13: SENDs whose metadata claims more than their bytes hold; 7: sequence ids past Int64.
        try await Self.send(client, producer: 1, sequence: 1) {
            $0.compression = .lz4
            $0.uncompressedSize = 2_000_000_000
        }
        try await Self.send(client, producer: 1, sequence: 2) { $0.numMessagesInBatch = 1_000_000_000 }
        try await Self.send(client, producer: 1, sequence: 3) { $0.numMessagesInBatch = .min }
        try await Self.send(client, producer: 1, sequence: .max) { $0.numMessagesInBatch = 2 }
        for _ in 0..<4 { _ = try await client.next(.sendError) }
        try await Frames.publish(client, producer: 1, sequence: 10, payload: ByteBuffer(string: "kept"))

        try await client.send(Frames.subscribe(topic, "probe", type: .exclusive, consumer: 1, name: "c", request: 2))
        _ = try await client.next(.success)
        // 1: a cumulative ACK at entry 2^63 with an ack set.
        try await client.send(Frames.command(.ack) {
            $0.ack.consumerID = 1
            $0.ack.ackType = .cumulative
            var id = Self.id(1, 1 << 63)
            id.ackSet = [1]
            $0.ack.messageID = [id]
        })
        // 2: a SEEK at {2^62, 2^63}; 12: a batch index no batch has; FLOW past Int32 many times.
        try await client.send(Frames.command(.seek) {
            $0.seek.consumerID = 1
            $0.seek.requestID = 3
            $0.seek.messageID = Self.id(1 << 62, 1 << 63)
        })
        _ = try await client.next(.error)
        for _ in 0..<4 { try await client.send(Frames.flow(1, .max)) }
        // 2: a reader's start id at {2^62, 2^63}.
        try await client.send(Frames.command(.subscribe) {
            $0.subscribe.topic = topic
            $0.subscribe.subscription = "reader-probe"
            $0.subscribe.subType = .exclusive
            $0.subscribe.consumerID = 2
            $0.subscribe.requestID = 4
            $0.subscribe.durable = false
            $0.subscribe.startMessageID = Self.id(1 << 62, 1 << 63)
        })
        _ = try await client.next(.error)
        // 6: an exclusive producer at epoch 2^64-1, then one without an epoch.
        try await client.send(Frames.command(.producer) {
            $0.producer.topic = "persistent://public/default/epoch"
            $0.producer.producerID = 2
            $0.producer.requestID = 5
            $0.producer.producerAccessMode = .exclusive
            $0.producer.topicEpoch = .max
        })
        _ = try await client.next(.error)
        // 5 and 15: a partition index past Int32, names with a newline, '..' and '%2F'.
        for (index, name) in [
            "persistent://public/default/t-partition-3000000000", "persistent://public/default/a\nb", "persistent://../default/x",
            "persistent://public/../x", "persistent://public/default/a%2Fb",
        ].enumerated() {
            try await client.send(Frames.producer(name, id: UInt64(10 + index), request: UInt64(10 + index)))
            var answer = try await client.next(timeout: .seconds(20))
            while answer.command.type != .producerSuccess && answer.command.type != .error { answer = try await client.next(timeout: .seconds(20)) }
            if answer.command.type == .producerSuccess {
                try await Frames.publish(client, producer: UInt64(10 + index), sequence: 0, payload: ByteBuffer(string: "x"))
            }
        }
        await client.close()
    }

    /// What the bookie protocol took from anyone and once trapped on, or let a stranger do.
    static func probeBookie(port: Int) async throws {
        let connection = try await RawBookieConnection(port: port)
        let stranger = Array("guess".utf8)
        var entry = ByteBuffer()
        LedgerEntry(ledgerID: 1 << 63, entryID: 0, lastAddConfirmed: -1, ledgerLength: 0, payload: ByteBuffer(string: "forged")).write(into: &entry)
        var future = ByteBuffer()
        LedgerEntry(ledgerID: 1_000_000, entryID: 0, lastAddConfirmed: -1, ledgerLength: 0, payload: ByteBuffer(string: "forged")).write(into: &future)
        let answers = try await connection.exchange([
            // 16: adds to ledger ids nobody allocated.
            BookieRequest(requestID: 1, .add(entry: entry, ledgerKey: stranger, recovery: false)),
            BookieRequest(requestID: 2, .add(entry: future, ledgerKey: stranger, recovery: true)),
            // 11: a fence of an id the next ledgers will have.
            BookieRequest(requestID: 3, .read(ReadRequest(ledgerID: 1_000_000, firstEntryID: 0, fence: true, ledgerKey: stranger))),
            // 10: WRITE_LAC Int64.max on an unused ledger, then a long-poll read.
            BookieRequest(requestID: 4, .writeLAC(ledgerID: 1_000_001, lastAddConfirmed: .max, ledgerKey: stranger)),
            BookieRequest(
                requestID: 5, .read(ReadRequest(ledgerID: 1_000_001, firstEntryID: 0, longPoll: .init(previousLAC: -1, timeoutMilliseconds: 200)))
            ),
        ])
        #expect(answers.count == 5)
        #expect(answers.filter { $0.requestID <= 4 }.allSatisfy { $0.status != .ok }, "\(answers)")
    }

    @Test func nothingAClientSendsStopsAProcess() async throws {
        let cluster = try await BrokerCluster.start(label: "probe")
        defer { cluster.stop() }
        let (brokerPID, bookiePIDs) = (cluster.broker.pid, cluster.bookies.pids)

        // 2,000 idle sockets, open through the probe.
        var idle: [RawPulsarClient] = []
        for _ in 0..<2000 { idle.append(try await RawPulsarClient.open(port: cluster.port)) }

        try await Self.probeBinaryProtocol(port: cluster.port)
        for index in cluster.bookies.ids.indices { try await Self.probeBookie(port: cluster.bookies.port(index)) }

        // The REST API: 3, 8, 9, 14 and 15.
        let topicPath = "/admin/v2/persistent/public/default/probed"
        let probes = [
            ("PUT", "\(topicPath)/subscription/rest", #"{"ledgerId": 4611686018427387904, "entryId": -9223372036854775808}"#),
            ("POST", "\(topicPath)/subscription/probe/resetcursor", #"{"ledgerId": 4611686018427387904, "entryId": -9223372036854775808}"#),
        ]
        for (method, path, body) in probes + BrokerHTTPTests.unhonourable.map({ ($0.method, $0.path, $0.body) }) {
            let answer = try await cluster.http(method, path, body: body)
            #expect((400..<500).contains(answer.status), "\(method) \(path): \(answer)")
        }
        for client in idle { await client.close() }

        #expect(cluster.broker.isRunning && cluster.broker.pid == brokerPID, "the broker is the one started")
        #expect(cluster.bookies.pids == bookiePIDs && cluster.bookies.ids.indices.allSatisfy { cluster.bookies.isRunning($0) })
        let (status, output) = try await cluster.python("produce_consume.py", [cluster.serviceURL, "persistent://public/default/after-probe", "lz4", "exclusive", "200"])
        #expect(status == 0 && output.contains("OK"), "\(output.suffix(2000))")
    }
}

/// A bookie-protocol connection that sends requests and reads their answers.
final class RawBookieConnection: Sendable {
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    init(port: Int) async throws {
        self.channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    }

    /// Sends `requests` at once; returns an answer for each (by request id), or what came
    /// before the bookie closed the connection.
    func exchange(_ requests: [BookieRequest]) async throws -> [BookieResponse] {
        try await self.channel.executeThenClose { inbound, outbound in
            var bytes = ByteBuffer()
            for request in requests { request.write(into: &bytes) }
            try await outbound.write(bytes)
            var reader = BookieFrameReader()
            var answers: [BookieResponse] = []
            for try await chunk in inbound {
                try reader.read(chunk) { frame in if let answer = try? BookieResponse(parsing: frame) { answers.append(answer) } }
                if answers.count >= requests.count { break }
            }
            return answers
        }
    }
}
