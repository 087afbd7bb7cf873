internal import NIOCore
public import PulsarProto
internal import SwiftProtobuf

extension SwiftProtobuf.Message {
    /// Decodes a message from the readable bytes of `bytes` without copying them.
    ///
    /// With `partial` the result may lack required fields; the caller checks them.
    static func decoded(from bytes: ByteBuffer, partial: Bool) throws -> Self {
        try Self(serializedBytes: bytes.readableBytesSpan, partial: partial)
    }

    /// The message's binary encoding, refused when a required field is unset.
    func encoded(describing what: @autoclosure () -> String) throws(PulsarWireError) -> [UInt8] {
        do {
            return try self.serializedBytes()
        } catch BinaryEncodingError.missingRequiredFields {
            throw PulsarWireError(.incompleteMessage, "\(what()) lacks a required field")
        } catch {
            throw PulsarWireError(.incompleteMessage, "\(what()) cannot be encoded: \(error)")
        }
    }
}

extension Pulsar_Proto_BaseCommand {
    /// The command's type for errors and logs, e.g. `send`, or a note that it has none.
    public var typeDescription: String {
        self.hasType ? String(describing: self.type) : "untyped"
    }
}
