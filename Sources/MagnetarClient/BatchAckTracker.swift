/// Which messages of partly acknowledged batches the application has acknowledged, so
/// that each ACK tells the broker the whole state of the batch (Pulsar's `ack_set`: a
/// set bit is a message *not* acknowledged yet). A pure value.
public struct BatchAckTracker: Sendable {
    private var batches: [MessageID: [UInt64]] = [:]

    public init() {}

    /// How an acknowledgment goes on the wire: the entry, and the ack_set when part of
    /// its batch is still unacknowledged (nil: the whole entry is done).
    public struct Ack: Sendable, Hashable {
        public var entry: MessageID
        public var ackSet: [Int64]?
    }

    /// The application acknowledged `id` individually.
    public mutating func acknowledge(_ id: MessageID) -> Ack {
        let entry = id.entry
        guard id.batchIndex >= 0, id.batchSize > 1 else { return Ack(entry: entry, ackSet: nil) }
        let size = Int(id.batchSize)
        var words = self.batches[entry] ?? Self.allSet(size)
        let index = Int(id.batchIndex)
        if index < size { words[index / 64] &= ~(UInt64(1) << UInt64(index % 64)) }
        if words.allSatisfy({ $0 == 0 }) {
            self.batches[entry] = nil
            return Ack(entry: entry, ackSet: nil)
        }
        self.batches[entry] = words
        return Ack(entry: entry, ackSet: words.map { Int64(bitPattern: $0) })
    }

    /// The application acknowledged everything up to and including `id`.
    public mutating func acknowledgeCumulative(_ id: MessageID) -> Ack {
        let entry = id.entry
        self.batches = self.batches.filter { $0.key.entry > entry }
        guard id.batchIndex >= 0, id.batchSize > 1, id.batchIndex < id.batchSize - 1 else { return Ack(entry: entry, ackSet: nil) }
        var words = Self.allSet(Int(id.batchSize))
        for index in 0...Int(id.batchIndex) { words[index / 64] &= ~(UInt64(1) << UInt64(index % 64)) }
        self.batches[entry] = words
        return Ack(entry: entry, ackSet: words.map { Int64(bitPattern: $0) })
    }

    /// Forgets everything (after a seek or a resubscription).
    public mutating func reset() { self.batches.removeAll() }

    private static func allSet(_ size: Int) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: (size + 63) / 64)
        for index in 0..<size { words[index / 64] |= UInt64(1) << UInt64(index % 64) }
        return words
    }
}
