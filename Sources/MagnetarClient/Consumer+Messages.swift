extension Consumer {
    /// The consumer's messages as an `AsyncSequence`: each iteration is ``receive()``.
    /// The sequence ends when the consumer is closed and throws on other failures.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = Message
        public typealias Failure = PulsarClientError
        let consumer: Consumer

        /// Takes the consumer's next message on each `next()`; nil once it is closed.
        public struct AsyncIterator: AsyncIteratorProtocol {
            public typealias Failure = PulsarClientError
            let consumer: Consumer

            public mutating func next() async throws(PulsarClientError) -> Message? {
                do {
                    return try await self.consumer.receive()
                } catch where error.code == .consumerClosed {
                    return nil
                }
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: self.consumer) }
    }

    /// Every message, as received; iterate with `for try await message in consumer.messages`.
    public var messages: Messages { Messages(consumer: self) }
}
