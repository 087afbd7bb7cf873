public import PulsarProto

/// A Pulsar frame that cannot be decoded, or a command that cannot be encoded.
///
/// Decoding errors mean the peer broke the protocol; the connection that sent the frame
/// is closed. A payload whose checksum does not match is *not* an error: it is reported
/// through ``PulsarPayload/checksumValid`` so the broker can answer with a SEND_ERROR.
/// When the command of a bad frame could be read in part (it lacks a required field, or
/// its payload is malformed), ``partialCommand`` holds it, so the receiver can answer the
/// request by its id before closing.
public struct PulsarWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case frameTooLarge, malformedFrame, malformedCommand, malformedMetadata, incompleteMessage, invalidTopicName
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The frame's size prefix is above the receiver's limit; nothing of it was buffered.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The frame's sizes are impossible or inconsistent, or a block is cut short.
        public static let malformedFrame = Code(.malformedFrame)
        /// The `BaseCommand` is not valid protobuf, has no type this code knows, or lacks
        /// a required field.
        public static let malformedCommand = Code(.malformedCommand)
        /// The `MessageMetadata` or `BrokerEntryMetadata` of a payload (whose checksum,
        /// if any, matched) is not valid protobuf or lacks a required field.
        public static let malformedMetadata = Code(.malformedMetadata)
        /// A message to be encoded lacks a required field; Pulsar's clients drop the
        /// connection on such messages, so it is refused before it is sent.
        public static let incompleteMessage = Code(.incompleteMessage)
        /// A topic name that does not parse (see ``TopicName/init(parsing:)``).
        public static let invalidTopicName = Code(.invalidTopicName)

        public var description: String { String(describing: self.wrapped) }
    }

    public var code: Code
    public var message: String
    /// What could be decoded of the frame's command, when anything could.
    public var partialCommand: Pulsar_Proto_BaseCommand?

    public init(_ code: Code, _ message: String, partialCommand: Pulsar_Proto_BaseCommand? = nil) {
        self.code = code
        self.message = message
        self.partialCommand = partialCommand
    }

    public var description: String { "\(self.code): \(self.message)" }
}
