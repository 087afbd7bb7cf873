extension ServerConnection {
    /// Records a producer its topic admitted, on the connection's event loop. When the
    /// connection closed while the topic was loading, the producer leaves the topic at once
    /// instead (nothing would ever remove it), and this returns false.
    func register(_ producerID: UInt64, _ topic: Topic, _ name: String) -> Bool {
        guard !self.closed else {
            topic.onLoop { $0.removeProducer(name) }
            return false
        }
        self.producers[producerID] = (topic, name)
        return true
    }

    /// Records a consumer its subscription admitted, on the connection's event loop; as
    /// ``register(_:_:_:)`` for producers, one admitted after the connection closed leaves
    /// at once, and this returns false.
    func register(_ consumerID: UInt64, _ topic: Topic, _ subscription: Subscription, _ consumer: Consumer) -> Bool {
        guard !self.closed else {
            topic.onLoop { $0.consumerLeft(consumer, subscription) }
            return false
        }
        self.consumers[consumerID] = (topic, subscription, consumer)
        return true
    }
}
