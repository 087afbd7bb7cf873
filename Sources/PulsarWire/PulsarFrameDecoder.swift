public import NIOCore
public import PulsarProto
internal import SwiftProtobuf

/// Splits a byte stream into ``PulsarFrame``s, keeping payloads as slices of the input.
///
/// A size prefix above ``maximumFrameSize`` is rejected as soon as its four bytes arrive,
/// before any of the frame is buffered; the broker announces ``maxMessageSize`` in
/// CONNECTED so well-behaved clients never send such a frame. Impossible sizes and
/// commands that are not valid protobuf, lack a known type or lack a required field
/// throw ``PulsarWireError``, and the connection should be closed. A payload whose
/// checksum does not match is delivered with ``PulsarPayload/checksumValid`` false, and
/// decoding continues with the next frame.
///
/// Any bytes after a command's `BaseCommand` are parsed as a payload (only SEND and
/// MESSAGE carry one). Checking that the field named by `command.type` is present is
/// left to the caller, which knows what to answer.
public struct PulsarFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = PulsarFrame

    /// The message size this side accepts and announces in `CONNECTED.max_message_size`.
    public let maxMessageSize: Int
    /// The largest value of a frame's size prefix (the bytes after it) that is accepted:
    /// ``maxMessageSize`` plus ``PulsarFrame/framePadding``.
    public let maximumFrameSize: Int

    /// - Parameter maxMessageSize: the largest message accepted; defaults to
    ///   ``PulsarFrame/defaultMaxMessageSize`` (5 MiB).
    public init(maxMessageSize: Int = PulsarFrame.defaultMaxMessageSize) {
        self.maxMessageSize = maxMessageSize
        self.maximumFrameSize = PulsarFrame.maximumFrameSize(forMessageSize: maxMessageSize)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> PulsarFrame? {
        guard let total = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard total <= self.maximumFrameSize else {
            throw PulsarWireError(.frameTooLarge, "a frame of \(total) bytes is above the limit of \(self.maximumFrameSize) (max message size \(self.maxMessageSize))")
        }
        guard total >= 4 else {
            throw PulsarWireError(.malformedFrame, "a frame of \(total) bytes cannot hold its command size")
        }
        guard buffer.readableBytes >= 4 + Int(total) else { return nil }
        let (_, commandSize) = buffer.readMultipleIntegers(as: (UInt32, UInt32).self)!
        var frame = buffer.readSlice(length: Int(total) - 4)!
        guard let commandBytes = frame.readSlice(length: Int(commandSize)) else {
            throw PulsarWireError(.malformedFrame, "a command of \(commandSize) bytes does not fit a frame of \(total)")
        }

        let command = try Self.decodeCommand(commandBytes)
        guard frame.readableBytes > 0 else { return PulsarFrame(command: command) }
        do {
            return PulsarFrame(command: command, payload: try PulsarPayload(parsing: frame))
        } catch {
            throw PulsarWireError(error.code, error.message, partialCommand: command)
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> PulsarFrame? {
        try self.decode(buffer: &buffer)
    }

    /// Parses a `BaseCommand`, telling apart bad protobuf, an absent or unknown type and
    /// a missing required field.
    static func decodeCommand(_ bytes: ByteBuffer) throws(PulsarWireError) -> Pulsar_Proto_BaseCommand {
        let command: Pulsar_Proto_BaseCommand
        do {
            command = try Pulsar_Proto_BaseCommand.decoded(from: bytes, partial: true)
        } catch {
            throw PulsarWireError(.malformedCommand, "a command of \(bytes.readableBytes) bytes is not valid protobuf: \(error)")
        }
        guard command.hasType else {
            throw PulsarWireError(.malformedCommand, "a command has no type, or a type newer than this code knows")
        }
        guard command.isInitialized else {
            throw PulsarWireError(.malformedCommand, "a \(command.typeDescription) command lacks a required field", partialCommand: command)
        }
        return command
    }
}
