import PulsarProto

/// What the dispatch rules need to know of a consumer.
protocol DispatchTarget: AnyObject {
    var name: String { get }
    var priorityLevel: Int32 { get }
    var permits: Int { get }
}

/// The consumers of one subscription and the rules of its type for choosing who gets an
/// entry. No I/O: a ``Subscription`` keeps one under its lock.
///
/// - Exclusive: one consumer; a second is refused.
/// - Failover: many; one is active. Consumers are ranked by priority level (lower first),
///   then name, then arrival; on partition N the active one is N modulo the number of
///   consumers of the best priority, on a topic that is not partitioned the first.
/// - Shared: round-robin over the consumers with permits.
/// - Key_Shared: a key belongs to one consumer by consistent hashing, so a consumer
///   joining or leaving moves only the keys it takes or gives up.
struct ConsumerSet<Target: DispatchTarget> {
    typealias SubType = Pulsar_Proto_CommandSubscribe.SubType

    private(set) var type: SubType
    /// In arrival order.
    private(set) var consumers: [Target] = []
    /// The partition of the topic, or -1.
    let partition: Int
    private var next = 0
    private var arrivals: [ObjectIdentifier: Int] = [:]
    private var arrivalCounter = 0
    /// Key_Shared: points on a 32-bit hash ring, sorted by hash.
    private var ring: [(hash: UInt32, consumer: Target)] = []

    /// Points each consumer puts on the Key_Shared ring; more points spread keys more evenly.
    static var pointsPerConsumer: Int { 100 }

    init(type: SubType, partition: Int) {
        self.type = type
        self.partition = partition
    }

    var isEmpty: Bool { self.consumers.isEmpty }

    /// Adds a consumer. The first one sets the subscription's type; later ones must match
    /// it, and an Exclusive subscription takes no second consumer.
    mutating func add(_ consumer: Target, type: SubType, subscription: String) throws(BrokerError) {
        if self.consumers.isEmpty {
            self.type = type
        } else if self.type != type {
            throw BrokerError(.consumerBusy, "subscription \(subscription) is \(Self.describe(self.type)), not \(Self.describe(type))")
        } else if type == .exclusive {
            throw BrokerError(.consumerBusy, "exclusive subscription \(subscription) already has a consumer")
        }
        self.consumers.append(consumer)
        self.arrivalCounter += 1
        self.arrivals[ObjectIdentifier(consumer)] = self.arrivalCounter
        if self.type == .keyShared { self.rebuildRing() }
    }

    /// Removes a consumer; returns false when it was not here.
    @discardableResult
    mutating func remove(_ consumer: Target) -> Bool {
        guard let index = self.consumers.firstIndex(where: { $0 === consumer }) else { return false }
        self.consumers.remove(at: index)
        self.arrivals[ObjectIdentifier(consumer)] = nil
        if index < self.next { self.next -= 1 }
        if self.next >= self.consumers.count { self.next = 0 }
        if self.type == .keyShared { self.rebuildRing() }
        return true
    }

    /// Removes every consumer and returns them.
    mutating func removeAll() -> [Target] {
        defer {
            self.consumers.removeAll()
            self.arrivals.removeAll()
            self.ring.removeAll()
            self.next = 0
        }
        return self.consumers
    }

    /// Exclusive and Failover: the consumer that receives everything.
    var active: Target? {
        guard !self.consumers.isEmpty else { return nil }
        guard self.type == .failover else { return self.consumers[0] }
        let ranked = self.consumers.sorted { a, b in
            if a.priorityLevel != b.priorityLevel { return a.priorityLevel < b.priorityLevel }
            if a.name != b.name { return a.name < b.name }
            return self.arrivals[ObjectIdentifier(a), default: 0] < self.arrivals[ObjectIdentifier(b), default: 0]
        }
        let best = ranked.prefix { $0.priorityLevel == ranked[0].priorityLevel }
        return best[self.partition >= 0 ? self.partition % best.count : 0]
    }

    /// The consumer for the next entry that has no key rule, or nil when the one due has
    /// no permits (Exclusive, Failover) or none has (Shared).
    mutating func nextConsumer() -> Target? {
        switch self.type {
        case .exclusive, .failover:
            guard let active = self.active else { return nil }
            return active.permits > 0 ? active : nil
        default:
            for offset in 0..<self.consumers.count {
                let index = (self.next + offset) % self.consumers.count
                if self.consumers[index].permits > 0 {
                    self.next = (index + 1) % self.consumers.count
                    return self.consumers[index]
                }
            }
            return nil
        }
    }

    /// Key_Shared: the consumer that owns `key`, permits or not.
    func owner(ofKey key: String) -> Target? {
        guard !self.ring.isEmpty else { return self.consumers.first }
        let hash = stableHash(key)
        var low = 0
        var high = self.ring.count
        while low < high {
            let middle = (low + high) / 2
            if self.ring[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        return self.ring[low == self.ring.count ? 0 : low].consumer
    }

    private mutating func rebuildRing() {
        var ring: [(hash: UInt32, consumer: Target)] = []
        ring.reserveCapacity(self.consumers.count * Self.pointsPerConsumer)
        for consumer in self.consumers {
            let identity = "\(consumer.name)#\(self.arrivals[ObjectIdentifier(consumer), default: 0])"
            for point in 0..<Self.pointsPerConsumer {
                ring.append((stableHash("\(identity)#\(point)"), consumer))
            }
        }
        ring.sort { $0.hash < $1.hash }
        self.ring = ring
    }

    static func describe(_ type: SubType) -> String {
        switch type {
        case .exclusive: "Exclusive"
        case .shared: "Shared"
        case .failover: "Failover"
        case .keyShared: "Key_Shared"
        }
    }
}

/// A hash of `text` that is the same in every process and run (unlike `Hasher`): 32-bit
/// FNV-1a followed by a finaliser that spreads nearby inputs apart. Key_Shared ownership
/// and the event loop of a topic go by it.
func stableHash(_ text: String) -> UInt32 {
    var hash: UInt32 = 2_166_136_261
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
    hash ^= hash >> 16
    hash &*= 0x85eb_ca6b
    hash ^= hash >> 13
    hash &*= 0xc2b2_ae35
    hash ^= hash >> 16
    return hash
}
