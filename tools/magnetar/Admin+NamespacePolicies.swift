import ArgumentParser

/// The namespace policies' set-, get- and remove- commands, on Pulsar's
/// `/admin/v2/namespaces/{tenant}/{namespace}/{policy}` routes (POST, GET, DELETE).
extension Admin.Namespaces {
    struct SetPersistence: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-persistence", abstract: "Set the bookies each ledger uses.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customShort("e"), .customLong("bookkeeper-ensemble")], help: "Bookies per ledger.") var ensemble = 2
        @Option(name: [.customShort("w"), .customLong("bookkeeper-write-quorum")], help: "Copies of each entry.") var writeQuorum = 2
        @Option(name: [.customShort("a"), .customLong("bookkeeper-ack-quorum")], help: "Copies acknowledged before a send is.")
        var ackQuorum = 2
        @Option(name: [.customShort("r"), .customLong("ml-mark-delete-max-rate")], help: "Mark-delete rate limit (0: none).")
        var markDeleteRate = 0.0

        func request() throws(AdminError) -> AdminRequest {
            let body: AdminJSON = .object([
                "bookkeeperEnsemble": .int(Int64(self.ensemble)), "bookkeeperWriteQuorum": .int(Int64(self.writeQuorum)),
                "bookkeeperAckQuorum": .int(Int64(self.ackQuorum)), "managedLedgerMaxMarkDeleteRate": .double(self.markDeleteRate),
            ])
            return .post(try Admin.Namespaces.path(self.namespace, "/persistence"), body: body)
        }
        var confirmation: String? { "set persistence of \(self.namespace)" }
    }

    struct GetPersistence: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-persistence", abstract: "Show the persistence policy.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/persistence")) }
    }

    struct RemovePersistence: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-persistence", abstract: "Remove the persistence policy.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/persistence")) }
        var confirmation: String? { "removed persistence of \(self.namespace)" }
    }

    struct SetRetention: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-retention", abstract: "Keep acknowledged messages for a time and up to a size.",
            discussion: "Times without a unit are seconds (10m, 3h, 2d, 1w); sizes without one bytes (500K, 10M, 1G); -1 is unlimited."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customShort("t"), .long], parsing: .unconditional, help: "Retention time, e.g. 10m, 3h, 2d or -1.")
        var time: RelativeTime
        @Option(name: [.customShort("s"), .long], parsing: .unconditional, help: "Retention size, e.g. 10M, 1G or -1.")
        var size: ByteSize

        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Namespaces.path(self.namespace, "/retention"), body: Admin.Namespaces.retention(self.time, self.size))
        }
        var confirmation: String? { "set retention of \(self.namespace)" }
    }

    struct GetRetention: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-retention", abstract: "Show the retention policy.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/retention")) }
    }

    struct RemoveRetention: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-retention", abstract: "Remove the retention policy.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/retention")) }
        var confirmation: String? { "removed retention of \(self.namespace)" }
    }

    struct SetMessageTTL: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-message-ttl", abstract: "Expire unacknowledged messages after a time.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customLong("messageTTL"), .customLong("ttl", withSingleDash: true)], help: "Seconds, or e.g. 10m, 3h; 0 disables.")
        var ttl: RelativeTime

        func request() throws(AdminError) -> AdminRequest {
            guard self.ttl.seconds >= 0 else { throw AdminError(.invalidArgument, "the message TTL cannot be negative") }
            return .post(try Admin.Namespaces.path(self.namespace, "/messageTTL"), body: .int(self.ttl.seconds))
        }
        var confirmation: String? { "set message TTL of \(self.namespace)" }
    }

    struct GetMessageTTL: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-message-ttl", abstract: "Show the message TTL in seconds.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/messageTTL")) }
    }

    struct RemoveMessageTTL: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-message-ttl", abstract: "Remove the message TTL.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/messageTTL")) }
        var confirmation: String? { "removed message TTL of \(self.namespace)" }
    }

    /// Pulsar's backlog quota kinds: by size, or by the oldest message's age.
    enum BacklogQuotaType: String, CaseIterable, Sendable, ExpressibleByArgument {
        case destinationStorage = "destination_storage"
        case messageAge = "message_age"
    }

    /// What the broker does when a backlog quota is exceeded.
    enum BacklogQuotaPolicy: String, CaseIterable, Sendable, ExpressibleByArgument {
        case producerRequestHold = "producer_request_hold"
        case producerException = "producer_exception"
        case consumerBacklogEviction = "consumer_backlog_eviction"
    }

    /// A retention body: minutes and megabytes, -1 unlimited.
    static func retention(_ time: RelativeTime, _ size: ByteSize) -> AdminJSON {
        .object(["retentionTimeInMinutes": .int(time.minutes), "retentionSizeInMB": .int(size.megabytes)])
    }

    /// A backlog quota body; the limit its type needs must be given.
    static func backlogQuota(type: BacklogQuotaType, limit: ByteSize?, limitTime: RelativeTime?, policy: BacklogQuotaPolicy) throws(AdminError) -> AdminJSON {
        if type == .destinationStorage, limit == nil { throw AdminError(.invalidArgument, "a destination_storage quota needs --limit") }
        if type == .messageAge, limitTime == nil { throw AdminError(.invalidArgument, "a message_age quota needs --limitTime") }
        return .object(["limitSize": .int(limit?.bytes ?? -1), "limitTime": .int(limitTime?.seconds ?? -1), "policy": .string(policy.rawValue)])
    }

    struct SetBacklogQuota: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-backlog-quota", abstract: "Limit the backlog by size or age.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customShort("l"), .long], help: "Size limit, e.g. 10M, 16G (destination_storage).") var limit: ByteSize?
        @Option(name: [.customLong("limitTime"), .customLong("lt", withSingleDash: true)], help: "Age limit, e.g. 3600, 3h (message_age).")
        var limitTime: RelativeTime?
        @Option(name: [.customShort("p"), .long], help: "What happens at the limit.") var policy: BacklogQuotaPolicy
        @Option(name: [.customShort("t"), .long], help: "Which quota to set.") var type: BacklogQuotaType = .destinationStorage

        func request() throws(AdminError) -> AdminRequest {
            let body = try Admin.Namespaces.backlogQuota(type: self.type, limit: self.limit, limitTime: self.limitTime, policy: self.policy)
            return .post(
                try Admin.Namespaces.path(self.namespace, "/backlogQuota"), query: ["backlogQuotaType": self.type.rawValue], body: body
            )
        }
        var confirmation: String? { "set \(self.type.rawValue) backlog quota of \(self.namespace)" }
    }

    struct GetBacklogQuotas: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-backlog-quotas", abstract: "Show the backlog quotas.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/backlogQuotaMap")) }
    }

    struct RemoveBacklogQuota: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-backlog-quota", abstract: "Remove a backlog quota.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customShort("t"), .long], help: "Which quota to remove.") var type: BacklogQuotaType = .destinationStorage
        func request() throws(AdminError) -> AdminRequest {
            .delete(try Admin.Namespaces.path(self.namespace, "/backlogQuota"), query: ["backlogQuotaType": self.type.rawValue])
        }
        var confirmation: String? { "removed \(self.type.rawValue) backlog quota of \(self.namespace)" }
    }
}
