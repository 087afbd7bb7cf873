public import Codec
import Foundation

/// A namespace's policies, stored at `/admin/policies/<tenant>/<namespace>` as JSON. A
/// policy left out takes the broker's default. The namespace exists while this key does.
struct NamespacePolicies: Codable, Equatable, Sendable {
    /// A message TTL's bounds, in seconds (Pulsar's is a 32-bit number).
    static let ttlSeconds = 0...Int(Int32.max)

    var persistence: PersistencePolicies?
    /// How bookies store batches: `none`, `lz4` or `zstd`.
    var storageCompression: String?
    /// How the namespace's topic-name hashes are split into bundles (Pulsar's
    /// BundlesData); written on creation, or by the first broker to need it.
    var bundles: NamespaceBundles?
    /// How long and how much consumed data is kept (stored now; applied by retention).
    var retention: RetentionPolicies?
    /// Messages older than this many seconds are acknowledged for every subscription.
    var messageTTLSeconds: Int?
    /// Backlog limits by type (`destination_storage`, `message_age`).
    var backlogQuotas: [String: BacklogQuota]?
    /// Whether producers' sequence ids are deduplicated.
    var deduplicationEnabled: Bool?
    /// Whether (and how) a topic is created when a client first uses it.
    var autoTopicCreation: AutoTopicCreation?
    /// Set while the namespace is being deleted: no broker loads its topics.
    var deleted: Bool?

    /// Pulsar's Policies field names.
    enum CodingKeys: String, CodingKey {
        case persistence
        case storageCompression
        case bundles
        case retention = "retention_policies"
        case messageTTLSeconds = "message_ttl_in_seconds"
        case backlogQuotas = "backlog_quota_map"
        case deduplicationEnabled
        case autoTopicCreation = "autoTopicCreationOverride"
        case deleted
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(self))
    }

    static func decoded(_ bytes: [UInt8], key: String) throws(BrokerError) -> NamespacePolicies {
        do {
            return try JSONDecoder().decode(NamespacePolicies.self, from: Data(bytes))
        } catch {
            throw BrokerError(.metadata, "\(key) does not hold namespace policies: \(error)")
        }
    }
}

/// Where new ledgers of a namespace's topics go, under Pulsar's JSON names.
public struct PersistencePolicies: Codable, Equatable, Sendable {
    /// Bookies per ledger (E).
    public var bookkeeperEnsemble: Int
    /// Copies of each entry (Qw).
    public var bookkeeperWriteQuorum: Int
    /// Copies stored before a send is receipted (Qa).
    public var bookkeeperAckQuorum: Int
    /// Accepted for compatibility; cursors are persisted on their own interval.
    public var managedLedgerMaxMarkDeleteRate: Double?

    public init(ensemble: Int, writeQuorum: Int, ackQuorum: Int) {
        self.bookkeeperEnsemble = ensemble
        self.bookkeeperWriteQuorum = writeQuorum
        self.bookkeeperAckQuorum = ackQuorum
    }

    /// The most bookies a ledger's ensemble may have (the ledger client's bound).
    static let maxEnsemble = 64

    /// Checks 64 ≥ E ≥ Qw ≥ Qa ≥ 1 and a finite, non-negative mark-delete rate: a policy
    /// storage cannot honour would fail every topic of the namespace as it loads.
    func validate() throws(BrokerError) {
        guard self.bookkeeperEnsemble <= Self.maxEnsemble, self.bookkeeperEnsemble >= self.bookkeeperWriteQuorum,
            self.bookkeeperWriteQuorum >= self.bookkeeperAckQuorum, self.bookkeeperAckQuorum >= 1,
            self.managedLedgerMaxMarkDeleteRate.map({ $0.isFinite && $0 >= 0 }) ?? true
        else {
            throw BrokerError(
                .notAllowed,
                "persistence needs \(Self.maxEnsemble) ≥ ensemble ≥ write quorum ≥ ack quorum ≥ 1 and a mark-delete rate of 0 or more; got \(self.bookkeeperEnsemble)/\(self.bookkeeperWriteQuorum)/\(self.bookkeeperAckQuorum)"
            )
        }
    }
}

extension CompressionType {
    /// Parses a storage compression policy: `none`, `lz4` or `zstd`, any case.
    public init(policy text: String) throws(BrokerError) {
        switch text.lowercased() {
        case "none": self = .none
        case "lz4": self = .lz4
        case "zstd": self = .zstd
        default: throw BrokerError(.notAllowed, "storage compression must be none, lz4 or zstd; got '\(text)'")
        }
    }

    /// The policy's name: `none`, `lz4` or `zstd`.
    public var policyName: String {
        switch self {
        case .none: "none"
        case .lz4: "lz4"
        case .zstd: "zstd"
        case .zlib: "zlib"
        case .snappy: "snappy"
        }
    }
}
