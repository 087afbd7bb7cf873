/// Where the cluster's shared state lives in the metadata store: the keys every process
/// agrees on.
public enum ClusterLayout {
    /// The id counter ledgers are numbered from (`/counters/ledger-id`).
    public static let ledgerIDCounter = "ledger-id"

    /// Ledger metadata: `/ledgers/<id>`.
    public static let ledgers = "/ledgers"

    public static func ledger(_ id: UInt64) -> String {
        "\(Self.ledgers)/\(id)"
    }

    /// Live bookies register here as ephemeral keys: `/bookies/available/<id>`.
    public static let availableBookies = "/bookies/available"

    public static func availableBookie(_ id: String) -> String {
        "\(Self.availableBookies)/\(id)"
    }

    /// Bookies being drained out of the cluster: `/bookies/decommissioned/<id>`. A marked
    /// bookie takes no new ensembles, and autorecovery moves its copies elsewhere.
    public static let decommissionedBookies = "/bookies/decommissioned"

    public static func decommissionedBookie(_ id: String) -> String {
        "\(Self.decommissionedBookies)/\(id)"
    }

    /// Ledgers with copies to restore, one key per ledger naming the bookies whose copies
    /// are to be replaced: `/ledgers/underreplication/ledgers/<id>`. (Not a ledger id below
    /// `/ledgers`: listings of ledgers keep numeric names only.)
    public static let underReplicatedLedgers = "/ledgers/underreplication/ledgers"

    public static func underReplicatedLedger(_ id: UInt64) -> String {
        "\(Self.underReplicatedLedgers)/\(id)"
    }

    /// A worker's claim on an under-replicated ledger, ephemeral in the worker's session:
    /// `/ledgers/underreplication/locks/<id>`.
    public static let replicationLocks = "/ledgers/underreplication/locks"

    public static func replicationLock(_ id: UInt64) -> String {
        "\(Self.replicationLocks)/\(id)"
    }

    /// The auditor's ephemeral key, won by compare-and-set: `/ledgers/underreplication/auditor`.
    public static let auditor = "/ledgers/underreplication/auditor"

    /// Each bookie's identity: `/bookies/cookies/<id>`.
    public static func cookie(_ bookieID: String) -> String {
        "\(Self.cookies)/\(bookieID)"
    }

    /// Every bookie that ever formatted (and was not removed), as children.
    public static let cookies = "/bookies/cookies"

    /// Id counters: `/counters/<name>`.
    public static func counter(_ name: String) -> String {
        "/counters/\(name)"
    }

    /// Every topic's managed ledger lies below: `/managed-ledgers`.
    public static let managedLedgersRoot = "/managed-ledgers"

    /// A topic's managed ledger (its ledger list): `/managed-ledgers/<tenant>/<namespace>/persistent/<topic>`,
    /// `name` being everything after `/managed-ledgers/`.
    public static func managedLedger(_ name: String) -> String {
        "/managed-ledgers/\(name)"
    }

    /// The managed ledgers of a namespace's persistent topics, as children.
    public static func managedLedgers(tenant: String, namespace: String) -> String {
        "/managed-ledgers/\(tenant)/\(namespace)/persistent"
    }

    /// A subscription's cursor: `/managed-ledgers/<name>/cursors/<cursor>`.
    public static func cursor(_ cursor: String, of managedLedger: String) -> String {
        "\(Self.managedLedger(managedLedger))/cursors/\(cursor)"
    }

    /// Tenants, as children: `/admin/policies/<tenant>` holds a tenant's info (admin roles,
    /// allowed clusters) and has its namespaces as children.
    public static let tenants = "/admin/policies"

    /// A tenant's info: `/admin/policies/<tenant>`.
    public static func tenant(_ name: String) -> String {
        "\(Self.tenants)/\(name)"
    }

    /// Clusters, as children: `/admin/clusters/<name>` holds a cluster's service URLs.
    public static let clusters = "/admin/clusters"

    public static func cluster(_ name: String) -> String {
        "\(Self.clusters)/\(name)"
    }

    /// A namespace's policies (the namespace exists while this key does):
    /// `/admin/policies/<tenant>/<namespace>`.
    public static func namespacePolicies(tenant: String, namespace: String) -> String {
        "\(Self.namespaces(of: tenant))/\(namespace)"
    }

    /// The namespaces of a tenant, as children.
    public static func namespaces(of tenant: String) -> String {
        Self.tenant(tenant)
    }

    /// A partitioned topic's partition count:
    /// `/admin/partitioned-topics/<tenant>/<namespace>/<domain>/<topic>`, the domain
    /// `persistent` or `non-persistent`.
    public static func partitionedTopic(tenant: String, namespace: String, domain: String = "persistent", topic: String) -> String {
        "\(Self.partitionedTopics(tenant: tenant, namespace: namespace, domain: domain))/\(topic)"
    }

    /// The partitioned topics of a namespace in one domain, as children.
    public static func partitionedTopics(tenant: String, namespace: String, domain: String = "persistent") -> String {
        "/admin/partitioned-topics/\(tenant)/\(namespace)/\(domain)"
    }

    /// A topic's own policies (retention, TTL, backlog quotas, deduplication), which win
    /// over its namespace's: `/admin/topic-policies/<tenant>/<namespace>/<topic>`.
    public static func topicPolicies(tenant: String, namespace: String, topic: String) -> String {
        "\(Self.topicPolicies(tenant: tenant, namespace: namespace))/\(topic)"
    }

    /// The topics of a namespace that have policies of their own, as children.
    public static func topicPolicies(tenant: String, namespace: String) -> String {
        "/admin/topic-policies/\(tenant)/\(namespace)"
    }

    /// Live brokers register here as ephemeral keys with their addresses and load:
    /// `/brokers/available/<id>`, the id being the broker's `host:http-port`.
    public static let availableBrokers = "/brokers/available"

    public static func availableBroker(_ id: String) -> String {
        "\(Self.availableBrokers)/\(id)"
    }

    /// The leader broker's ephemeral key, won by compare-and-set: `/brokers/leader`.
    public static let leaderBroker = "/brokers/leader"

    /// Bundle ownership, every namespace's below it: `/namespace/`.
    public static let bundleOwners = "/namespace/"

    /// The ephemeral key of the broker owning a namespace bundle:
    /// `/namespace/<tenant>/<namespace>/<range>`, `range` as `0x00000000_0x40000000`.
    public static func bundleOwner(tenant: String, namespace: String, range: String) -> String {
        "\(Self.bundleOwners(tenant: tenant, namespace: namespace))/\(range)"
    }

    /// The owned bundles of a namespace, as children.
    public static func bundleOwners(tenant: String, namespace: String) -> String {
        "/namespace/\(tenant)/\(namespace)"
    }
}
