import ManagedLedger
import NIOCore
import PulsarProto
import PulsarWire

/// The Pulsar protocol as a fuzzer drives it, with no I/O: bytes as a client's connection
/// would carry them, through the frame decoder into ``PulsarConnectionStateMachine``
/// (connected, with a producer and a consumer registered, so every command is reached),
/// and each action's numbers through the conversions the connection applies to them. Any
/// trap is a defect. `Sources/Fuzzing/PulsarFrames` runs it under libFuzzer.
public enum PulsarInputHarness {
    public static func run(_ bytes: UnsafeRawBufferPointer) {
        var buffer = ByteBuffer(bytes: bytes)
        var decoder = PulsarFrameDecoder(maxMessageSize: 5 << 20)
        var machine = PulsarConnectionStateMachine<Int, Int>(limits: CommandLimits(maxMessageSize: 5 << 20))
        // An input starting with 0 is a connection that has not said CONNECT yet.
        if bytes.first != 0 {
            _ = machine.received(PulsarFrame(command: Self.connect))
            _ = machine.producerCreated(1, 1)
            _ = machine.consumerCreated(1, 1)
        }
        while buffer.readableBytes > 0 {
            let frame: PulsarFrame
            do {
                guard let decoded = try decoder.decode(buffer: &buffer) else { return }
                frame = decoded
            } catch let error as PulsarWireError {
                _ = machine.decodingFailed(error)
                return
            } catch {
                return
            }
            Self.exercise(machine.received(frame))
            _ = machine.keepAliveTick()
        }
    }

    /// What the connection does with an action's numbers, without its I/O.
    static func exercise(_ action: PulsarConnectionStateMachine<Int, Int>.Action) {
        switch action {
        case .ack(_, let request):
            for id in request.messageID { _ = id.entryPosition?.previousInLedger }
        case .redeliver(_, let request):
            _ = request.messageIds.compactMap(\.entryPosition)
        case .seek(_, let request):
            if case .position(let position) = request.messageID.seekTarget { _ = position.nextInLedger }
            _ = Topic.ackSet(from: Int(max(0, min(request.messageID.batchIndex, 64))), of: 64)
        case .subscribe(let request):
            _ = SubscribeRequest(request)
            _ = try? TopicName(parsing: request.topic)
        case .createProducer(let request):
            _ = try? TopicName(parsing: request.topic)
        case .publish(_, let send, let payload):
            _ = Deduplication.highestSequenceID(of: payload.metadata)
            _ = Int64(bitPattern: send.sequenceID)
        case .topicRequest(let command):
            _ = try? TopicName(parsing: command.lookupTopic.topic)
            _ = try? TopicName(parsing: command.partitionMetadata.topic).partitionIndex
        default:
            break
        }
    }

    static var connect: Pulsar_Proto_BaseCommand {
        var command = Pulsar_Proto_BaseCommand()
        command.type = .connect
        command.connect.clientVersion = "fuzz"
        command.connect.protocolVersion = 20
        return command
    }
}
