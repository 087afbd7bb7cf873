import NIOCore
import PulsarProto
import PulsarWire
import SwiftProtobuf

/// Commands, metadata and helpers shared by the PulsarWire tests.
enum Fixtures {
    static func connect(clientVersion: String = "swift", protocolVersion: Int32 = 20) -> Pulsar_Proto_BaseCommand {
        .with {
            $0.type = .connect
            $0.connect = .with {
                $0.clientVersion = clientVersion
                $0.protocolVersion = protocolVersion
            }
        }
    }

    static let ping = Pulsar_Proto_BaseCommand.with {
        $0.type = .ping
        $0.ping = Pulsar_Proto_CommandPing()
    }

    static let producer = Pulsar_Proto_BaseCommand.with {
        $0.type = .producer
        $0.producer = .with {
            $0.topic = "persistent://public/default/t"
            $0.producerID = 3
            $0.requestID = 4
            $0.producerAccessMode = .exclusive
            $0.metadata = [.with { $0.key = "k"; $0.value = "v" }]
        }
    }

    static let sendReceipt = Pulsar_Proto_BaseCommand.with {
        $0.type = .sendReceipt
        $0.sendReceipt = .with {
            $0.producerID = 3
            $0.sequenceID = 17
            $0.messageID = .with { $0.ledgerID = 9; $0.entryID = .max; $0.partition = -1 }
        }
    }

    static let error = Pulsar_Proto_BaseCommand.with {
        $0.type = .error
        $0.error = .with { $0.requestID = 5; $0.error = .producerBusy; $0.message = "busy" }
    }

    static func send(producerID: UInt64 = 1, sequenceID: UInt64 = 0) -> Pulsar_Proto_BaseCommand {
        .with {
            $0.type = .send
            $0.send = .with {
                $0.producerID = producerID
                $0.sequenceID = sequenceID
            }
        }
    }

    static let message = Pulsar_Proto_BaseCommand.with {
        $0.type = .message
        $0.message = .with {
            $0.consumerID = 2
            $0.messageID = .with { $0.ledgerID = 9; $0.entryID = 1; $0.partition = -1 }
            $0.redeliveryCount = 1
        }
    }

    static func metadata(producerName: String = "p", sequenceID: UInt64 = 0, publishTime: UInt64 = 1) -> Pulsar_Proto_MessageMetadata {
        .with {
            $0.producerName = producerName
            $0.sequenceID = sequenceID
            $0.publishTime = publishTime
        }
    }

    static let batchMetadata = Pulsar_Proto_MessageMetadata.with {
        $0.producerName = "batcher"
        $0.sequenceID = 100
        $0.publishTime = 1_700_000_000_000
        $0.numMessagesInBatch = 3
        $0.compression = .lz4
        $0.uncompressedSize = 4096
        $0.properties = [.with { $0.key = "a"; $0.value = "b" }]
    }

    static func encode(_ command: Pulsar_Proto_BaseCommand) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try PulsarFrame.write(command: command, into: &buffer)
        return buffer
    }

    static func encode(
        _ command: Pulsar_Proto_BaseCommand,
        metadata: Pulsar_Proto_MessageMetadata,
        payload: String,
        brokerEntryMetadata: Pulsar_Proto_BrokerEntryMetadata? = nil
    ) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try PulsarFrame.write(
            command: command,
            metadata: metadata,
            payload: ByteBuffer(string: payload),
            brokerEntryMetadata: brokerEntryMetadata,
            into: &buffer
        )
        return buffer
    }

    /// Runs a decoder over `bytes` until it needs more input.
    static func decodeAll(_ bytes: ByteBuffer, maxMessageSize: Int = PulsarFrame.defaultMaxMessageSize) throws -> [PulsarFrame] {
        var decoder = PulsarFrameDecoder(maxMessageSize: maxMessageSize)
        var buffer = bytes
        var frames: [PulsarFrame] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        return frames
    }

    /// A frame around hand-made command bytes and an optional hand-made payload section.
    static func rawFrame(command: [UInt8], rest: [UInt8] = []) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(4 + command.count + rest.count), UInt32(command.count))
        buffer.writeBytes(command)
        buffer.writeBytes(rest)
        return buffer
    }

    /// `[u32 size][metadata][payload]`, the bytes a checksum covers.
    static func metadataAndPayload(_ metadata: [UInt8], _ payload: [UInt8]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(metadata.count))
        buffer.writeBytes(metadata)
        buffer.writeBytes(payload)
        return Array(buffer.readableBytesView)
    }
}
