import ClusterTesting
import Foundation
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// What the broker must never do, shown frame by frame: store a producer's messages out
/// of the order sent, or let an acknowledgement skip messages not yet published.
@Suite("Broker safety, frame by frame", .timeLimit(.minutes(4)))
struct BrokerSafetyTests {
    typealias Frames = BrokerProtocolTests

    /// The metadata store stalls (another process holds its write lock) when a producer's
    /// pipelined sends need a new ledger: the rollover fails, and so do the sends queued
    /// for it. Sends that arrive after that, once the store works again, must fail too:
    /// the topic is fenced and the producer closed, so that a client resends everything
    /// from its first failed message, in order. Reconnected, the producer resends, and a
    /// consumer reads every message once, in the order sent.
    @Test func aFailedRolloverStoresNothingSentAfterTheFailedMessage() async throws {
        let cluster = try await BrokerCluster.start(
            label: "raw-failed-rollover", brokerArguments: ["--max-entries-per-ledger", "5", "--storage-compression", "none"]
        )
        defer { cluster.stop() }
        let topic = "persistent://public/default/failed-rollover"
        let client = try await RawPulsarClient.connect(port: cluster.port)
        try await client.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await client.next(.producerSuccess)

        try await Self.send(client, producer: 1, 0..<5)
        let first = try await Self.answers(client, producer: 1, count: 5)
        #expect(first.receipted == Array(0..<5), "the first ledger takes five messages: \(first)")

        let lock = try await cluster.holdMetadataWriteLock()
        try await Self.send(client, producer: 1, 5..<10)
        let stalled = try await Self.answers(client, producer: 1, count: 5, timeout: .seconds(40))
        lock.stop()
        #expect(stalled.failed == Array(5..<10), "the sends queued for the rollover fail: \(stalled)")

        // The store works again, and the client has not reacted to the failures yet.
        try await Self.send(client, producer: 1, 10..<15)
        let later = try await Self.answers(client, producer: 1, count: 5)
        #expect(later.receipted.isEmpty, "messages sent after a failed one were stored ahead of it: \(later)")
        #expect(stalled.producerClosed || later.producerClosed, "the producer is told to reconnect (CLOSE_PRODUCER)")

        // Reconnect as a client does, and resend from the first failed message on.
        let deadline = ContinuousClock.now + .seconds(30)
        var request: UInt64 = 10
        while true {
            request += 1
            try await client.send(Frames.producer(topic, id: 2, request: request))
            let answer = try await client.next(timeout: .seconds(30))
            if answer.command.type == .producerSuccess { break }
            guard ContinuousClock.now < deadline else { throw TestHarnessError("the producer cannot reconnect: \(answer.command)") }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Self.send(client, producer: 2, 5..<15)
        let resent = try await Self.answers(client, producer: 2, count: 10)
        #expect(resent.receipted == Array(5..<15), "the resent messages are stored: \(resent)")

        let consumer = try await RawPulsarClient.connect(port: cluster.port)
        try await consumer.send(Frames.subscribe(topic, "check", type: .exclusive, consumer: 1, name: "c", request: 1))
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        let consumed = await Self.bodies(consumer, upTo: 30, quiet: .seconds(3))
        #expect(consumed == (0..<15).map { "m\($0)" }, "consumed in this order")
        await consumer.close()
        await client.close()
    }

    /// A consumer is attached when a failed rollover closes the topic: it gets
    /// CLOSE_CONSUMER, and subscribing again it reads on from its acknowledged position in
    /// the topic loaded anew: what the producer resent, once, in order.
    @Test func aConsumerFollowsTheTopicReloadedAfterAFailure() async throws {
        let cluster = try await BrokerCluster.start(
            label: "raw-reload-consumer", brokerArguments: ["--max-entries-per-ledger", "5", "--storage-compression", "none"]
        )
        defer { cluster.stop() }
        let topic = "persistent://public/default/reload-consumer"
        let consumer = try await RawPulsarClient.connect(port: cluster.port)
        try await consumer.send(Frames.subscribe(topic, "live", type: .exclusive, consumer: 1, name: "c", request: 1))
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        let client = try await RawPulsarClient.connect(port: cluster.port)
        try await client.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await client.next(.producerSuccess)

        try await Self.send(client, producer: 1, 0..<5)
        #expect(try await Self.answers(client, producer: 1, count: 5).receipted == Array(0..<5))
        var firstIDs: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<5 { firstIDs.append(try await consumer.next(.message).command.message.messageID) }
        try await consumer.send(Self.cumulativeAck(consumer: 1, firstIDs[4], request: 2))
        #expect(try await consumer.next(.ackResponse).command.ackResponse.hasError == false)

        let lock = try await cluster.holdMetadataWriteLock()
        try await Self.send(client, producer: 1, 5..<10)
        let stalled = try await Self.answers(client, producer: 1, count: 5, timeout: .seconds(40))
        lock.stop()
        #expect(stalled.failed == Array(5..<10), "\(stalled)")
        let closed = try await consumer.next(.closeConsumer, timeout: .seconds(10))
        #expect(closed.command.closeConsumer.consumerID == 1)

        var request: UInt64 = 10
        while true {
            request += 1
            try await client.send(Frames.producer(topic, id: 2, request: request))
            if try await client.next(timeout: .seconds(30)).command.type == .producerSuccess { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Self.send(client, producer: 2, 5..<10)
        #expect(try await Self.answers(client, producer: 2, count: 5).receipted == Array(5..<10))
        try await consumer.send(Frames.subscribe(topic, "live", type: .exclusive, consumer: 1, name: "c", request: 20))
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        let consumed = await Self.bodies(consumer, upTo: 20, quiet: .seconds(3))
        #expect(consumed == (5..<10).map { "m\($0)" }, "after the reload the consumer reads on from its acknowledged position")
        await consumer.close()
        await client.close()
    }

    /// A cumulative ack past the last published message gets ACK_RESPONSE with an error
    /// and moves nothing: messages published afterwards are delivered. A cumulative ack on
    /// a Shared subscription is refused the same way.
    @Test func acksPastTheLastMessageAreRefused() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-ack-past-end", brokerArguments: ["--storage-compression", "none"])
        defer { cluster.stop() }
        let topic = "persistent://public/default/ack-past-end"
        let client = try await RawPulsarClient.connect(port: cluster.port)
        try await client.send(Frames.producer(topic, id: 1, request: 1))
        _ = try await client.next(.producerSuccess)
        for sequence in 0..<3 {
            try await Frames.publish(client, producer: 1, sequence: UInt64(sequence), payload: ByteBuffer(string: "m\(sequence)"))
        }

        let consumer = try await RawPulsarClient.connect(port: cluster.port)
        try await consumer.send(Frames.subscribe(topic, "exclusive", type: .exclusive, consumer: 1, name: "c", request: 1))
        _ = try await consumer.next(.success)
        try await consumer.send(Frames.flow(1, 100))
        var ids: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<3 { ids.append(try await consumer.next(.message).command.message.messageID) }

        var beyond = ids[2]
        beyond.entryID += 100
        try await consumer.send(Self.cumulativeAck(consumer: 1, beyond, request: 7))
        let answer = try await consumer.next(.ackResponse).command.ackResponse
        #expect(answer.requestID == 7 && answer.hasError, "a cumulative ack past the end is accepted: \(answer)")

        for sequence in 3..<6 {
            try await Frames.publish(client, producer: 1, sequence: UInt64(sequence), payload: ByteBuffer(string: "m\(sequence)"))
        }
        let delivered = await Self.bodies(consumer, upTo: 3, quiet: .seconds(5))
        #expect(delivered == ["m3", "m4", "m5"], "messages published after the refused ack are delivered")

        let shared = try await RawPulsarClient.connect(port: cluster.port)
        try await shared.send(Frames.subscribe(topic, "shared", type: .shared, consumer: 2, name: "s", request: 1))
        _ = try await shared.next(.success)
        try await shared.send(Frames.flow(2, 100))
        var sharedIDs: [Pulsar_Proto_MessageIdData] = []
        for _ in 0..<6 { sharedIDs.append(try await shared.next(.message).command.message.messageID) }
        try await shared.send(Self.cumulativeAck(consumer: 2, sharedIDs[5], request: 8))
        let sharedAnswer = try await shared.next(.ackResponse).command.ackResponse
        #expect(sharedAnswer.requestID == 8 && sharedAnswer.hasError, "a cumulative ack on a Shared subscription is accepted: \(sharedAnswer)")

        await shared.close()
        await consumer.close()
        await client.close()
    }

    // MARK: Helpers

    static func cumulativeAck(consumer: UInt64, _ id: Pulsar_Proto_MessageIdData, request: UInt64) -> Pulsar_Proto_BaseCommand {
        Frames.command(.ack) {
            $0.ack.consumerID = consumer
            $0.ack.ackType = .cumulative
            $0.ack.messageID = [id]
            $0.ack.requestID = request
        }
    }

    /// Sends `m<n>` for every `n` in `range` as `producer`, without waiting for receipts.
    static func send(_ client: RawPulsarClient, producer: UInt64, _ range: Range<Int>) async throws {
        for sequence in range {
            try await client.sendRaw(try RawPulsarClient.sendFrame(producer: producer, sequence: UInt64(sequence), payload: ByteBuffer(string: "m\(sequence)")))
        }
    }

    /// What the broker answered to a producer's sends.
    struct Answers: CustomStringConvertible {
        var receipted: [Int] = []
        var failed: [Int] = []
        var producerClosed = false
        var description: String { "receipted \(self.receipted), failed \(self.failed), closed \(self.producerClosed)" }
    }

    /// Reads frames until `count` sends of `producer` are answered (receipt or error).
    static func answers(_ client: RawPulsarClient, producer: UInt64, count: Int, timeout: Duration = .seconds(20)) async throws -> Answers {
        var answers = Answers()
        while answers.receipted.count + answers.failed.count < count {
            let command = try await client.next(timeout: timeout).command
            switch command.type {
            case .sendReceipt where command.sendReceipt.producerID == producer:
                answers.receipted.append(Int(command.sendReceipt.sequenceID))
            case .sendError where command.sendError.producerID == producer:
                answers.failed.append(Int(command.sendError.sequenceID))
            case .closeProducer where command.closeProducer.producerID == producer:
                answers.producerClosed = true
            default:
                continue
            }
        }
        return answers
    }

    /// The payloads of the messages that arrive, until `count` did or none came for `quiet`.
    static func bodies(_ client: RawPulsarClient, upTo count: Int, quiet: Duration) async -> [String] {
        var bodies: [String] = []
        while bodies.count < count, let frame = try? await client.next(.message, timeout: quiet) {
            if let payload = frame.payload { bodies.append(String(buffer: payload.payload)) }
        }
        return bodies
    }
}

extension BrokerCluster {
    /// Makes the metadata store stall for writers: a process opens the SQLite file and
    /// holds its write lock (readers go on) until the returned process is stopped.
    func holdMetadataWriteLock() async throws -> ChildProcess {
        let path = String(self.bookies.metadataURL.dropFirst("sqlite:".count))
        let script = """
            import sqlite3, sys, time
            connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            connection.execute("BEGIN IMMEDIATE")
            print("LOCKED", flush=True)
            time.sleep(120)
            """
        let process = try ChildProcess(try PythonClient.interpreter(), ["-c", script, path], logPath: self.directory.file("lock.log"))
        try await process.waitForOutput("LOCKED")
        return process
    }
}
