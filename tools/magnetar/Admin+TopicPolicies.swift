import ArgumentParser

/// A topic's own policies, pulsar-admin's `topics set-…`, `get-…` and `remove-…`, on
/// Pulsar's topic-policy routes: they win over the namespace's.
extension Admin.Topics {
    typealias QuotaType = Admin.Namespaces.BacklogQuotaType
    typealias QuotaPolicy = Admin.Namespaces.BacklogQuotaPolicy

    struct SetRetention: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-retention", abstract: "Keep the topic's acknowledged messages for a time and up to a size.",
            discussion: "Times without a unit are seconds (10m, 3h, 2d, 1w); sizes without one bytes (500K, 10M, 1G); -1 is unlimited."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Retention time, e.g. 10m, 3h, 2d or -1.")
        var time: RelativeTime
        @Option(name: [.customShort("s"), .long], parsing: .unconditional, help: "Retention size, e.g. 10M, 1G or -1.")
        var size: ByteSize
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Topics.path(self.topic, "/retention"), body: Admin.Namespaces.retention(self.time, self.size))
        }
        var confirmation: String? { "set retention of \(self.topic)" }
    }

    struct SetMessageTTL: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-message-ttl", abstract: "Expire the topic's unacknowledged messages after a time.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customLong("ttl"), .customShort("t")], help: "Seconds, or e.g. 10m, 3h; 0 disables.") var ttl: RelativeTime
        func request() throws(AdminError) -> AdminRequest {
            guard self.ttl.seconds >= 0 else { throw AdminError(.invalidArgument, "the message TTL cannot be negative") }
            return .post(try Admin.Topics.path(self.topic, "/messageTTL"), query: ["messageTTL": "\(self.ttl.seconds)"])
        }
        var confirmation: String? { "set message TTL of \(self.topic)" }
    }

    struct SetDeduplication: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-deduplication", abstract: "Turn the topic's deduplication on or off.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @OptionGroup var choice: Admin.Namespaces.Switch
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Topics.path(self.topic, "/deduplicationEnabled"), body: .bool(self.choice.enable))
        }
        var confirmation: String? { "\(self.choice.enable ? "enabled" : "disabled") deduplication of \(self.topic)" }
    }

    struct SetBacklogQuota: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-backlog-quota", abstract: "Limit the topic's backlog by size or age.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("l"), .long], help: "Size limit, e.g. 10M, 16G (destination_storage).") var limit: ByteSize?
        @Option(name: [.customLong("limitTime"), .customLong("lt", withSingleDash: true)], help: "Age limit, e.g. 3600, 3h (message_age).")
        var limitTime: RelativeTime?
        @Option(name: [.customShort("p"), .long], help: "What happens at the limit.") var policy: QuotaPolicy
        @Option(name: [.customShort("t"), .long], help: "Which quota to set.") var type: QuotaType = .destinationStorage
        func request() throws(AdminError) -> AdminRequest {
            let body = try Admin.Namespaces.backlogQuota(type: self.type, limit: self.limit, limitTime: self.limitTime, policy: self.policy)
            return .post(try Admin.Topics.path(self.topic, "/backlogQuota"), query: ["backlogQuotaType": self.type.rawValue], body: body)
        }
        var confirmation: String? { "set \(self.type.rawValue) backlog quota of \(self.topic)" }
    }

    struct RemoveBacklogQuota: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-backlog-quota", abstract: "Remove one of the topic's backlog quotas.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("t"), .long], help: "Which quota to remove.") var type: QuotaType = .destinationStorage
        func request() throws(AdminError) -> AdminRequest {
            .delete(try Admin.Topics.path(self.topic, "/backlogQuota"), query: ["backlogQuotaType": self.type.rawValue])
        }
        var confirmation: String? { "removed \(self.type.rawValue) backlog quota of \(self.topic)" }
    }

    /// `get-<policy>` of one of a topic's own policies.
    struct GetPolicy<Kind: TopicPolicyKind>: AdminCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "get-\(Kind.name)", abstract: "Show the topic's own \(Kind.what) (none: the namespace's applies).")
        }
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Topics.path(self.topic, Kind.readRoute)) }
    }

    /// `remove-<policy>` of one of a topic's own policies: its namespace's applies again.
    struct RemovePolicy<Kind: TopicPolicyKind>: AdminCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: "remove-\(Kind.name)", abstract: "Remove the topic's own \(Kind.what).")
        }
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Topics.path(self.topic, Kind.route)) }
        var confirmation: String? { "removed \(Kind.what) of \(self.topic)" }
    }

    enum Retention: TopicPolicyKind {
        static let (name, what, route, readRoute) = ("retention", "retention", "/retention", "/retention")
    }

    enum MessageTTL: TopicPolicyKind {
        static let (name, what, route, readRoute) = ("message-ttl", "message TTL", "/messageTTL", "/messageTTL")
    }

    enum Deduplication: TopicPolicyKind {
        static let (name, what, route, readRoute) = ("deduplication", "deduplication setting", "/deduplicationEnabled", "/deduplicationEnabled")
    }

    enum BacklogQuotas: TopicPolicyKind {
        static let (name, what, route, readRoute) = ("backlog-quotas", "backlog quotas", "/backlogQuota", "/backlogQuotaMap")
    }
}

/// One of a topic's own policies: its command name and routes.
protocol TopicPolicyKind: Sendable {
    /// As in `get-<name>`.
    static var name: String { get }
    static var what: String { get }
    /// Set and removed here, read at ``readRoute``.
    static var route: String { get }
    static var readRoute: String { get }
}
