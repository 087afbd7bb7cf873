@testable import Broker
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// What the connection refuses before any topic sees it: SENDs that lie about their size,
/// and names outside Pulsar's rule.
extension InputBoundsTests {
    /// A SEND of producer 1 with `metadata` over `payload`, decoded as the broker reads it.
    static func sendFrame(sequenceID: UInt64, metadata: Pulsar_Proto_MessageMetadata, payload: ByteBuffer) throws -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .send
        command.send.producerID = 1
        command.send.sequenceID = sequenceID
        var frame = ByteBuffer()
        try PulsarFrame.write(command: command, metadata: metadata, payload: payload, into: &frame)
        var decoder = PulsarFrameDecoder(maxMessageSize: 5 << 20)
        return try #require(try decoder.decode(buffer: &frame))
    }

    // MARK: 13. SENDs whose metadata claims more than their bytes hold

    enum Lie: String, CaseIterable, Sendable {
        case uncompressedSizeOverLZ4, chunkOfTwoGigabytes, billionMessages, negativeMessages, sequenceIDAboveInt64

        func apply(_ metadata: inout Pulsar_Proto_MessageMetadata) {
            switch self {
            case .uncompressedSizeOverLZ4:
                metadata.compression = .lz4
                metadata.uncompressedSize = 2_000_000_000
            case .chunkOfTwoGigabytes:
                metadata.uuid = "u"
                metadata.chunkID = 0
                metadata.numChunksFromMsg = 400
                metadata.totalChunkMsgSize = 2_000_000_000
                metadata.uncompressedSize = 2_000_000_000
            case .billionMessages: metadata.numMessagesInBatch = 1_000_000_000
            case .negativeMessages: metadata.numMessagesInBatch = .min
            case .sequenceIDAboveInt64: metadata.sequenceID = .max
            }
        }
    }

    @Test(arguments: Lie.allCases)
    func aSendClaimingMoreThanItsBytesHoldIsRefused(_ lie: Lie) throws {
        let what = lie.rawValue
        var machine = Machine()
        _ = machine.received(Self.connect())
        _ = machine.producerCreated(1, "p")
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.publishTime = 1
        metadata.sequenceID = 7
        lie.apply(&metadata)
        let sent = try Self.sendFrame(sequenceID: 7, metadata: metadata, payload: ByteBuffer(repeating: 1, count: 100))
        guard case .reply(let answer) = machine.received(sent) else {
            Issue.record("\(what) was not refused")
            return
        }
        #expect(answer.type == .sendError && answer.sendError.sequenceID == 7, "\(what)")
    }

    /// A chunk names its whole message's size, which may pass the maximum message size.
    @Test func aChunkOfAMessageAboveTheMaximumSizeIsTaken() throws {
        var machine = Machine()
        _ = machine.received(Self.connect())
        _ = machine.producerCreated(1, "p")
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.publishTime = 1
        metadata.sequenceID = 0
        metadata.uuid = "u"
        metadata.chunkID = 0
        metadata.numChunksFromMsg = 3
        metadata.totalChunkMsgSize = Int32(12 << 20)
        metadata.uncompressedSize = UInt32(12 << 20)
        let sent = try Self.sendFrame(sequenceID: 0, metadata: metadata, payload: ByteBuffer(repeating: 1, count: 4 << 20))
        guard case .publish = machine.received(sent) else {
            Issue.record("a chunk of a 12 MiB message was refused")
            return
        }
    }

    @Test func aBatchThatFitsItsBytesIsTaken() throws {
        var machine = Machine()
        _ = machine.received(Self.connect())
        _ = machine.producerCreated(1, "p")
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "p"
        metadata.numMessagesInBatch = 16
        metadata.publishTime = 1
        metadata.sequenceID = 0
        let sent = try Self.sendFrame(sequenceID: 0, metadata: metadata, payload: ByteBuffer(repeating: 1, count: 96))
        guard case .publish = machine.received(sent) else {
            Issue.record("a batch of 16 messages in 96 bytes was refused")
            return
        }
    }

    // MARK: 15. Names

    @Test(arguments: ["..", ".", "a\nb", "a%2Fb", "a b", "", String(repeating: "x", count: 1025)])
    func namesOutsidePulsarsRuleAreRefused(_ name: String) {
        #expect(throws: PulsarWireError.self) { try TopicName(parsing: "persistent://\(name)/default/t") }
        #expect(throws: PulsarWireError.self) { try TopicName(parsing: "persistent://public/\(name)/t") }
        #expect(throws: PulsarWireError.self) { try TopicName(parsing: "persistent://public/default/\(name)") }
    }

    @Test func namesInsideTheRuleAreTaken() throws {
        for name in ["public", "a-b_c=d:e.f", "my-topic-partition-3", "A9"] { _ = try TopicName(parsing: "persistent://\(name)/\(name)/\(name)") }
        _ = try TopicName(parsing: "persistent://public/default/orders.v2")
        _ = try TopicName(parsing: "orders")
    }

    @Test func aSubscriptionNameOutsideTheRuleIsRefused() {
        var machine = Machine()
        _ = machine.received(Self.connect())
        var command = Pulsar_Proto_BaseCommand()
        command.type = .subscribe
        command.subscribe.topic = "persistent://public/default/t"
        command.subscribe.subscription = "../x"
        command.subscribe.consumerID = 1
        command.subscribe.requestID = 5
        guard case .reply(let answer) = machine.received(PulsarFrame(command: command)) else {
            Issue.record("the SUBSCRIBE was not refused")
            return
        }
        #expect(answer.error.requestID == 5)
    }
}
