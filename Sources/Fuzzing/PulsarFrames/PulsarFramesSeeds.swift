import NIOCore
import PulsarProto
import PulsarWire

/// The seed corpus: the frames a client sends in a session (CONNECT, PRODUCER, SEND,
/// SUBSCRIBE, FLOW, ACK, SEEK, REDELIVER, LOOKUP), each one input, and the whole session
/// as one more.
enum PulsarFramesSeeds {
    static func seeds() throws -> [[UInt8]] {
        let frames = try Self.frames()
        var session = ByteBuffer()
        for frame in frames { session.writeImmutableBuffer(frame) }
        return (frames + [session]).map { Array($0.readableBytesView) }
    }

    static func frames() throws -> [ByteBuffer] {
        func command(_ type: Pulsar_Proto_BaseCommand.TypeEnum, _ fill: (inout Pulsar_Proto_BaseCommand) -> Void) -> Pulsar_Proto_BaseCommand {
            var command = Pulsar_Proto_BaseCommand()
            command.type = type
            fill(&command)
            return command
        }
        var id = Pulsar_Proto_MessageIdData()
        id.ledgerID = 3
        id.entryID = 7
        let commands = [
            command(.connect) { $0.connect.clientVersion = "seed"; $0.connect.protocolVersion = 20 },
            command(.producer) { $0.producer.topic = "persistent://public/default/t"; $0.producer.producerID = 1; $0.producer.requestID = 1 },
            command(.subscribe) {
                $0.subscribe.topic = "persistent://public/default/t"
                $0.subscribe.subscription = "s"
                $0.subscribe.subType = .shared
                $0.subscribe.consumerID = 1
                $0.subscribe.requestID = 2
                $0.subscribe.startMessageID = id
            },
            command(.flow) { $0.flow.consumerID = 1; $0.flow.messagePermits = 1000 },
            command(.ack) { var acked = id; acked.ackSet = [6]; $0.ack.consumerID = 1; $0.ack.ackType = .individual; $0.ack.messageID = [acked]; $0.ack.requestID = 3 },
            command(.seek) { $0.seek.consumerID = 1; $0.seek.requestID = 4; $0.seek.messageID = id },
            command(.redeliverUnacknowledgedMessages) { $0.redeliverUnacknowledgedMessages.consumerID = 1; $0.redeliverUnacknowledgedMessages.messageIds = [id] },
            command(.lookup) { $0.lookupTopic.topic = "persistent://public/default/t-partition-2"; $0.lookupTopic.requestID = 5 },
            command(.ping) { $0.ping = Pulsar_Proto_CommandPing() },
        ]
        var frames: [ByteBuffer] = []
        for command in commands {
            var buffer = ByteBuffer()
            try PulsarFrame.write(command: command, into: &buffer)
            frames.append(buffer)
        }
        var metadata = Pulsar_Proto_MessageMetadata()
        metadata.producerName = "seed"
        metadata.sequenceID = 0
        metadata.publishTime = 1
        metadata.numMessagesInBatch = 2
        let send = command(.send) { $0.send.producerID = 1; $0.send.sequenceID = 0 }
        var buffer = ByteBuffer()
        try PulsarFrame.write(command: send, metadata: metadata, payload: ByteBuffer(repeating: 1, count: 24), into: &buffer)
        frames.insert(buffer, at: 3)
        return frames
    }
}
