public import PulsarWire

extension TopicName {
    /// Parses a topic name a client or an admin request gave; a bad one is
    /// ``BrokerError/Code/invalidTopicName``.
    public init(_ text: String) throws(BrokerError) {
        do {
            try self.init(parsing: text)
        } catch {
            throw BrokerError(.invalidTopicName, error.message)
        }
    }

    /// The managed ledger's name: `tenant/namespace/persistent/local`.
    var ledgerName: String { "\(self.tenant)/\(self.namespace)/persistent/\(self.local)" }
}
