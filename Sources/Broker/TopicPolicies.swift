import ManagedLedger

/// The policies a topic runs under: its own where set, else its namespace's, else the
/// broker's defaults. A pure value, worked out again whenever the policies are read.
struct TopicPolicies: Equatable, Sendable {
    /// Whether producers' sequence ids are deduplicated.
    var deduplication = false
    /// Which consumed ledgers are kept.
    var retention = RetentionRule()
    /// Messages older than this are acknowledged for every subscription (nil: never).
    var messageTTL: Duration?
    /// The backlog size limit, in bytes, and what happens past it.
    var sizeQuota: Quota?
    /// The backlog age limit and what happens past it.
    var ageQuota: Quota?
    /// How long deduplication remembers a producer that is gone.
    var deduplicationInactivity: Duration = .seconds(360 * 60)
    /// How many producers, consumers and subscriptions the topic takes.
    var limits = Limits()

    /// Pulsar's per-topic limits (0: no limit).
    struct Limits: Equatable, Sendable {
        /// maxProducersPerTopic.
        var producers = 0
        /// maxConsumersPerTopic.
        var consumers = 0
        /// maxConsumersPerSubscription.
        var consumersPerSubscription = 0
        /// maxSubscriptionsPerTopic.
        var subscriptions = 0
        /// maxUnackedMessagesPerConsumer (Pulsar's default 50 000): a consumer holding as
        /// many is sent nothing more until half are acknowledged.
        var unackedPerConsumer = 0
        /// maxUnackedMessagesPerSubscription (Pulsar's default 200 000), likewise.
        var unackedPerSubscription = 0

        /// Whether a count of `count` has reached `limit` (0: no limit).
        static func reached(_ count: Int, _ limit: Int) -> Bool { limit > 0 && count >= limit }
    }

    /// A backlog limit (bytes, or seconds of age) and its policy.
    struct Quota: Equatable, Sendable {
        var limit: Int64
        var policy: Policy

        enum Policy: String, Sendable {
            /// New producers are refused (the client retries them) and connected ones closed.
            case hold = "producer_request_hold"
            /// New producers are refused and the client fails its sends; connected ones closed.
            case exception = "producer_exception"
            /// The slowest subscriptions skip their oldest messages until under the limit.
            case evict = "consumer_backlog_eviction"
        }

        init(limit: Int64, policy: Policy) {
            self.limit = limit
            self.policy = policy
        }

        /// A stored quota for the limit it sets (nil when it sets none).
        init?(_ quota: BacklogQuota?, limit: (BacklogQuota) -> Int64?) {
            guard let quota, let value = limit(quota), value >= 0, let policy = Policy(rawValue: quota.policy) else { return nil }
            self.init(limit: value, policy: policy)
        }
    }

    /// What the broker applies where neither the topic nor its namespace sets a policy
    /// (Pulsar's broker settings; defaults in each field's comment).
    struct Defaults: Equatable, Sendable {
        /// brokerDeduplicationEnabled (default false).
        var deduplication = false
        /// defaultRetentionTimeInMinutes and defaultRetentionSizeInMB (default 0 and 0).
        var retention = RetentionRule()
        /// ttlDurationDefaultInSeconds (default none).
        var messageTTL: Duration?
        /// backlogQuotaDefaultLimitBytes and its policy (default none).
        var sizeQuota: Quota?
        /// Most messages a subscription holds back for their delivery time (default 1 000 000).
        var delayedDeliveryCapacity = 1_000_000
        /// brokerDeduplicationProducerInactivityTimeoutMinutes (default 360).
        var deduplicationInactivity: Duration = .seconds(360 * 60)
        /// maxProducersPerTopic, maxConsumersPerTopic, maxConsumersPerSubscription and
        /// maxSubscriptionsPerTopic (default 0: no limit).
        var limits = Limits()

        init(deduplication: Bool = false, retention: RetentionRule = RetentionRule(), messageTTL: Duration? = nil, sizeQuota: Quota? = nil) {
            self.deduplication = deduplication
            self.retention = retention
            self.messageTTL = messageTTL
            self.sizeQuota = sizeQuota
        }
    }

    init() {}

    /// The policies of a topic with its own (`topic`), its namespace's and the broker's.
    init(topic: NamespacePolicies?, namespace: NamespacePolicies, defaults: Defaults) {
        func pick<T>(_ field: (NamespacePolicies) -> T?) -> T? { topic.flatMap(field) ?? field(namespace) }
        self.deduplication = pick(\.deduplicationEnabled) ?? defaults.deduplication
        self.deduplicationInactivity = defaults.deduplicationInactivity
        self.limits = defaults.limits
        self.retention = pick(\.retention).map { RetentionRule(minutes: $0.retentionTimeInMinutes, megabytes: $0.retentionSizeInMB) } ?? defaults.retention
        if let seconds = pick(\.messageTTLSeconds) {
            // Stored policies are held to the REST API's bounds.
            self.messageTTL = seconds > 0 ? .seconds(min(seconds, NamespacePolicies.ttlSeconds.upperBound)) : nil
        } else {
            self.messageTTL = defaults.messageTTL
        }
        let quotas = pick(\.backlogQuotas) ?? [:]
        if let stored = quotas["destination_storage"] {
            self.sizeQuota = Quota(stored, limit: \.limitSize)
        } else {
            self.sizeQuota = defaults.sizeQuota
        }
        self.ageQuota = Quota(quotas["message_age"]) { $0.limitTime.map(Int64.init) }
    }
}
