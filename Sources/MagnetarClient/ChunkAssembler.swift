public import NIOCore

/// Puts chunked messages back together on the consumer side: a pure value fed each
/// chunk (its uuid, index, count and bytes) in arrival order.
///
/// A message is complete when its last chunk arrives after all the others in order; a
/// chunk out of order drops what was gathered for its message (the broker redelivers it
/// whole after a reconnection), and at most ``maxPending`` messages are gathered at once,
/// the oldest dropped first.
public struct ChunkAssembler: Sendable {
    /// What one finished message is made of.
    public struct Assembled: Sendable {
        public var payload: ByteBuffer
        /// The ids of its chunks, first to last.
        public var chunks: [MessageID]
    }

    private struct Partial {
        var payload: ByteBuffer
        var chunks: [MessageID]
        var expected: Int32
        var count: Int32
    }

    public let maxPending: Int
    private var partials: [String: Partial] = [:]
    private var order: [String] = []

    public init(maxPending: Int = 10) {
        self.maxPending = max(1, maxPending)
    }

    /// Messages partly gathered.
    public var pendingCount: Int { self.partials.count }

    /// Adds chunk `index` of `count` of message `uuid`. Returns the finished message when
    /// this was its last chunk; `dropped` lists chunk ids of gatherings given up.
    public mutating func add(
        uuid: String, index: Int32, count: Int32, totalSize: Int, bytes: ByteBuffer, id: MessageID
    ) -> (assembled: Assembled?, dropped: [MessageID]) {
        var dropped: [MessageID] = []
        if index == 0 {
            if let stale = self.partials.removeValue(forKey: uuid) { dropped += stale.chunks }
            self.order.removeAll { $0 == uuid }
            while self.partials.count >= self.maxPending, let oldest = self.order.first {
                self.order.removeFirst()
                dropped += self.partials.removeValue(forKey: oldest)?.chunks ?? []
            }
            var payload = ByteBuffer()
            payload.reserveCapacity(max(totalSize, bytes.readableBytes))
            self.partials[uuid] = Partial(payload: payload, chunks: [], expected: 0, count: count)
            self.order.append(uuid)
        }
        guard var partial = self.partials[uuid], partial.expected == index, partial.count == count else {
            if let broken = self.partials.removeValue(forKey: uuid) { dropped += broken.chunks }
            self.order.removeAll { $0 == uuid }
            return (nil, dropped + [id])
        }
        self.partials[uuid] = nil
        var bytes = bytes
        partial.payload.writeBuffer(&bytes)
        partial.chunks.append(id)
        partial.expected += 1
        guard partial.expected == partial.count else {
            self.partials[uuid] = partial
            return (nil, dropped)
        }
        self.order.removeAll { $0 == uuid }
        return (Assembled(payload: partial.payload, chunks: partial.chunks), dropped)
    }
}
