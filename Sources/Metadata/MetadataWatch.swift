/// The changes a watch observes, in the order the store applied them.
///
/// Iterate it from one task. The sequence ends with an error when the watch can no longer
/// promise to deliver every change (the store closed, or history it needed was compacted);
/// cancelling the iterating task, or dropping the sequence, stops the watch.
public struct MetadataWatch: AsyncSequence, Sendable {
    public typealias Element = MetadataEvent
    public typealias Failure = any Error

    private let stream: AsyncThrowingStream<MetadataEvent, any Error>

    init(_ stream: AsyncThrowingStream<MetadataEvent, any Error>) {
        self.stream = stream
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<MetadataEvent, any Error>.AsyncIterator {
        self.stream.makeAsyncIterator()
    }
}
