/// Retention of consumed data, under Pulsar's JSON names: kept until both limits pass;
/// -1 is no limit, 0 keeps nothing.
struct RetentionPolicies: Codable, Equatable, Sendable {
    var retentionTimeInMinutes: Int
    var retentionSizeInMB: Int64

    /// Pulsar's bounds: minutes are a 32-bit number, megabytes a 64-bit number of bytes.
    static let minutes = -1...Int(Int32.max)
    static let megabytes = Int64(-1)...(Int64.max >> 20)

    func validate() throws(BrokerError) {
        guard Self.minutes.contains(self.retentionTimeInMinutes), Self.megabytes.contains(self.retentionSizeInMB) else {
            throw BrokerError(
                .notAllowed,
                "retention time must be -1 (no limit) to \(Int32.max) minutes and size -1 (no limit) to \(Self.megabytes.upperBound) MB"
            )
        }
    }
}

/// A backlog limit and what happens past it, under Pulsar's JSON names.
struct BacklogQuota: Codable, Equatable, Sendable {
    /// Bytes of backlog (destination_storage); -1 is no limit.
    var limitSize: Int64?
    /// Seconds of backlog age (message_age); -1 is no limit.
    var limitTime: Int?
    /// `producer_request_hold`, `producer_exception` or `consumer_backlog_eviction`.
    var policy: String

    static let policies = ["producer_request_hold", "producer_exception", "consumer_backlog_eviction"]
    static let types = ["destination_storage", "message_age"]

    func validate(type: String) throws(BrokerError) {
        guard Self.types.contains(type) else {
            throw BrokerError(.notAllowed, "backlogQuotaType must be one of \(Self.types.joined(separator: ", ")); got '\(type)'")
        }
        guard Self.policies.contains(self.policy) else {
            throw BrokerError(.notAllowed, "the backlog quota policy must be one of \(Self.policies.joined(separator: ", ")); got '\(self.policy)'")
        }
        guard (self.limitSize ?? -1) >= -1, (-1...Int(Int32.max)).contains(self.limitTime ?? -1) else {
            throw BrokerError(.notAllowed, "backlog quota limits must be -1 (no limit) or more, and a time at most \(Int32.max) seconds")
        }
    }
}

/// Whether topics are created on first use, under Pulsar's JSON names.
struct AutoTopicCreation: Codable, Equatable, Sendable {
    var allowAutoTopicCreation: Bool
    /// `partitioned` or `non-partitioned`.
    var topicType: String
    var defaultNumPartitions: Int?

    func validate() throws(BrokerError) {
        switch self.topicType {
        case "non-partitioned":
            guard (self.defaultNumPartitions ?? 0) == 0 else {
                throw BrokerError(.notAllowed, "defaultNumPartitions is only for topicType partitioned")
            }
        case "partitioned":
            guard let count = self.defaultNumPartitions, count > 0 else {
                throw BrokerError(.notAllowed, "topicType partitioned needs defaultNumPartitions above 0")
            }
        default:
            throw BrokerError(.notAllowed, "topicType must be partitioned or non-partitioned; got '\(self.topicType)'")
        }
    }
}
