import PulsarProto
import PulsarWire

/// Why the broker refused something, with the Pulsar error it maps to.
public struct BrokerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A kind of refusal, with the ServerError a Pulsar client is sent for it.
    public struct Code: Hashable, Sendable {
        let name: String
        let serverError: Pulsar_Proto_ServerError
        public static let invalidTopicName = Code(name: "InvalidTopicName", serverError: .invalidTopicName)
        public static let notAllowed = Code(name: "NotAllowed", serverError: .notAllowedError)
        public static let producerBusy = Code(name: "ProducerBusy", serverError: .producerBusy)
        public static let producerFenced = Code(name: "ProducerFenced", serverError: .producerFenced)
        public static let consumerBusy = Code(name: "ConsumerBusy", serverError: .consumerBusy)
        public static let persistence = Code(name: "PersistenceError", serverError: .persistenceError)
        /// The topic is closing (its ledger failed or was taken over): retry, and it is
        /// loaded anew.
        public static let serviceNotReady = Code(name: "ServiceNotReady", serverError: .serviceNotReady)
        public static let metadata = Code(name: "MetadataError", serverError: .metadataError)
        public static let unknown = Code(name: "UnknownError", serverError: .unknownError)
        /// No such topic, subscription, tenant or namespace (REST: 404).
        public static let notFound = Code(name: "NotFound", serverError: .topicNotFound)
        /// The topic was terminated: it takes no more messages.
        public static let topicTerminated = Code(name: "TopicTerminatedError", serverError: .topicTerminatedError)
        /// The backlog quota is exceeded under `producer_request_hold`: the client retries.
        public static let backlogQuotaHold = Code(name: "ProducerBlockedQuotaExceededError", serverError: .producerBlockedQuotaExceededError)
        /// The backlog quota is exceeded under `producer_exception`: the client's sends fail.
        public static let backlogQuotaExceeded = Code(
            name: "ProducerBlockedQuotaExceededException", serverError: .producerBlockedQuotaExceededException
        )
        /// It exists already (REST: 409).
        public static let conflict = Code(name: "Conflict", serverError: .notAllowedError)
        /// A message stored by a broker whose ownership of its topic lapsed meanwhile: it is
        /// answered with neither receipt nor error (the topic closes, and the producer
        /// resends to the next owner), but its completion still comes, for the counts.
        public static let withheld = Code(name: "Withheld", serverError: .serviceNotReady)
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code.name): \(self.message)" }
}
