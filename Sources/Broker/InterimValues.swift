import Foundation

// Replaced by the full values (NamespaceBundles.swift, BundleRange.swift, LoadPlacement.swift).
struct BundleRange: Hashable, Sendable, Comparable, CustomStringConvertible {
    var lower: UInt32
    var upper: UInt32
    init(lower: UInt32, upper: UInt32) {
        self.lower = lower
        self.upper = upper
    }
    init?(name: String) {
        let parts = name.split(separator: "_")
        guard parts.count == 2, parts.allSatisfy({ $0.hasPrefix("0x") && $0.count == 10 }),
            let lower = UInt32(parts[0].dropFirst(2), radix: 16), let upper = UInt32(parts[1].dropFirst(2), radix: 16), lower < upper
        else { return nil }
        self.init(lower: lower, upper: upper)
    }
    var name: String { String(format: "0x%08x_0x%08x", self.lower, self.upper) }
    var description: String { self.name }
    func contains(_ hash: UInt32) -> Bool { hash >= self.lower && (hash < self.upper || self.upper == .max) }
    static func < (a: Self, b: Self) -> Bool { a.lower < b.lower }
    static let full = BundleRange(lower: 0, upper: .max)
}

struct NamespaceBundles: Hashable, Sendable, Codable {
    var boundaries: [UInt32]
    init(count: Int) {
        let segment = UInt64(1) << 32 / UInt64(count)
        self.boundaries = (0..<count).map { UInt32(UInt64($0) * segment) } + [.max]
    }
    var ranges: [BundleRange] { zip(self.boundaries, self.boundaries.dropFirst()).map { BundleRange(lower: $0, upper: $1) } }
    var count: Int { self.boundaries.count - 1 }
    static func hash(_ topic: String) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in topic.utf8 {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
    func bundle(forHash hash: UInt32) -> BundleRange { self.ranges.first { $0.contains(hash) }! }
    func bundle(forTopic name: String) -> BundleRange { self.bundle(forHash: Self.hash(name)) }
    func range(named name: String) -> BundleRange? { self.ranges.first { $0.name == name } }
    private enum Keys: String, CodingKey { case boundaries, numBundles }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        self.boundaries = try container.decode([String].self, forKey: .boundaries).map { UInt32($0.dropFirst(2), radix: 16)! }
    }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(self.boundaries.map { String(format: "0x%08x", $0) }, forKey: .boundaries)
        try container.encode(self.count, forKey: .numBundles)
    }
}

struct BundleLoad: Hashable, Sendable, Codable {
    var msgRateIn: Double = 0
    var msgRateOut: Double = 0
    var msgThroughputIn: Double = 0
    var msgThroughputOut: Double = 0
    var topics: Int = 0
}

struct BrokerLoad: Hashable, Sendable {
    var broker: String
    var bundles: [String: BundleLoad]
}

struct LoadPlacement: Sendable {
    var brokers: [BrokerLoad]
    var threshold: Double = 0.25
    init(brokers: [BrokerLoad], threshold: Double = 0.25) {
        self.brokers = brokers
        self.threshold = threshold
    }
    func leastLoaded(pending: [String: Int] = [:], excluding: Set<String> = []) -> String? {
        self.brokers.filter { !excluding.contains($0.broker) }.min { ($0.bundles.count + (pending[$0.broker] ?? 0), $0.broker) < ($1.bundles.count + (pending[$1.broker] ?? 0), $1.broker) }?.broker
    }
    struct Move: Hashable, Sendable {
        var bundle: String
        var from: String
        var to: String
    }
    func sheddingPlan(now: ContinuousClock.Instant, lastMoved: [String: ContinuousClock.Instant], coolDown: Duration) -> [Move] { [] }
}

enum HTTPClient {
    struct Response { var status: Int; var body: [UInt8] }
    static func request(_ method: String, _ url: String, body: [UInt8]? = nil) async throws -> Response { Response(status: 500, body: []) }
}
