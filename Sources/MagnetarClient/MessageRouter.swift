/// How a producer on a partitioned topic picks a partition.
public enum RoutingMode: String, Sendable, Hashable {
    /// Messages with a key go by the key's hash; others rotate over the partitions
    /// (with batching, one partition per batching delay so batches fill).
    case roundRobin
    /// Messages with a key go by the key's hash; others all go to one partition chosen
    /// at random when the producer is created.
    case singlePartition
}

/// The partition decision as a value: fed the key and the time, it answers an index.
///
/// Keys hash with Java's `String.hashCode` (masked to be non-negative), Pulsar's default
/// `JavaStringHash`, so a key lands on the same partition as with Pulsar's Java client.
public struct MessageRouter: Sendable, Hashable {
    public let partitions: Int
    public let mode: RoutingMode
    /// With batching, how long round-robin stays on one partition (0: switch every message).
    public let switchInterval: Duration
    private var counter: Int
    private let fixed: Int

    public init(partitions: Int, mode: RoutingMode = .roundRobin, switchInterval: Duration = .zero, start: Int = 0) {
        precondition(partitions > 0, "a router needs partitions")
        self.partitions = partitions
        self.mode = mode
        self.switchInterval = switchInterval
        self.counter = start
        self.fixed = start % partitions
    }

    /// The partition of a message with `key` sent `elapsed` after some fixed origin.
    public mutating func partition(forKey key: String?, elapsed: Duration) -> Int {
        if let key { return Int(Self.javaStringHash(key) % Int32(self.partitions)) }
        switch self.mode {
        case .singlePartition:
            return self.fixed
        case .roundRobin:
            if self.switchInterval > .zero {
                let slot = Int(elapsed / self.switchInterval)
                return (slot + self.fixed) % self.partitions
            }
            defer { self.counter &+= 1 }
            return abs(self.counter % self.partitions)
        }
    }

    /// Java's `String.hashCode` over UTF-16 code units, with the sign bit cleared.
    public static func javaStringHash(_ key: String) -> Int32 {
        var hash: Int32 = 0
        for unit in key.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return hash & Int32.max
    }
}
