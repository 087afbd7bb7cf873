import ArgumentParser

extension Admin {
    /// `topics …`: pulsar-admin's topic commands (pulsarctl's spellings as aliases); the
    /// subscription ones are in `Admin+Subscriptions.swift`.
    struct Topics: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "topics",
            abstract: "Create, inspect, unload and delete topics; manage their subscriptions.",
            discussion: "A topic is persistent://tenant/namespace/topic, tenant/namespace/topic, or a topic in public/default.",
            subcommands: [
                Create.self, CreatePartitioned.self, UpdatePartitioned.self, PartitionedMetadata.self, List.self, ListPartitioned.self,
                Delete.self, DeletePartitioned.self, Stats.self, PartitionedStats.self, InternalStats.self, LastMessageID.self,
                PeekMessages.self, ExamineMessage.self, Terminate.self, Unload.self, Lookup.self, BundleRange.self,
                Subscriptions.self, CreateSubscription.self, Unsubscribe.self, Skip.self, ClearBacklog.self, ResetCursor.self,
                ExpireMessages.self,
                SetRetention.self, GetPolicy<Retention>.self, RemovePolicy<Retention>.self,
                SetMessageTTL.self, GetPolicy<MessageTTL>.self, RemovePolicy<MessageTTL>.self,
                SetDeduplication.self, GetPolicy<Deduplication>.self, RemovePolicy<Deduplication>.self,
                SetBacklogQuota.self, GetPolicy<BacklogQuotas>.self, RemoveBacklogQuota.self,
            ]
        )

        /// The topic's admin path followed by `suffix`.
        static func path(_ topic: String, _ suffix: String = "") throws(AdminError) -> String {
            try AdminName.topic(topic).adminPath + suffix
        }

        /// A partition count body, which must be above 0.
        static func partitions(_ count: Int) throws(AdminError) -> AdminJSON {
            guard count > 0 else { throw AdminError(.invalidArgument, "the number of partitions must be above 0") }
            return .int(Int64(count))
        }

        struct Create: AdminCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a non-partitioned topic (pulsarctl: `create TOPIC N` makes N partitions)."
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Argument(help: "Partitions; 0 (the default) for a non-partitioned topic.") var partitions = 0
            func request() throws(AdminError) -> AdminRequest {
                guard self.partitions > 0 else { return .put(try Topics.path(self.topic)) }
                return .put(try Topics.path(self.topic, "/partitions"), body: try Topics.partitions(self.partitions))
            }
            var confirmation: String? { "created \(fullName(topic: self.topic))" }
        }

        struct CreatePartitioned: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "create-partitioned-topic", abstract: "Create a partitioned topic.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Option(name: [.customShort("p"), .long], help: "The number of partitions.") var partitions: Int
            func request() throws(AdminError) -> AdminRequest {
                .put(try Topics.path(self.topic, "/partitions"), body: try Topics.partitions(self.partitions))
            }
            var confirmation: String? { "created \(fullName(topic: self.topic)) with \(self.partitions) partitions" }
        }

        struct UpdatePartitioned: AdminCommand {
            static let configuration = CommandConfiguration(
                commandName: "update-partitioned-topic", abstract: "Raise a partitioned topic's partition count.", aliases: ["update"]
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Option(name: [.customShort("p"), .long], help: "The new number of partitions.") var partitions: Int
            func request() throws(AdminError) -> AdminRequest {
                .post(try Topics.path(self.topic, "/partitions"), body: try Topics.partitions(self.partitions))
            }
            var confirmation: String? { "updated \(fullName(topic: self.topic)) to \(self.partitions) partitions" }
        }

        struct PartitionedMetadata: AdminCommand {
            static let configuration = CommandConfiguration(
                commandName: "get-partitioned-topic-metadata", abstract: "Show a topic's number of partitions.", aliases: ["get"]
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try Topics.path(self.topic, "/partitions")) }
        }

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List a namespace's topics (partitions included).")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            func request() throws(AdminError) -> AdminRequest { .get(try AdminName.namespace(self.namespace).topicsPath) }
        }

        struct ListPartitioned: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "list-partitioned-topics", abstract: "List a namespace's partitioned topics.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            func request() throws(AdminError) -> AdminRequest { .get(try AdminName.namespace(self.namespace).topicsPath + "/partitioned") }
        }

        struct Delete: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a topic.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Flag(name: [.customShort("f"), .long], help: "Delete it even with producers, consumers or subscriptions.") var force = false
            func request() throws(AdminError) -> AdminRequest { .delete(try Topics.path(self.topic), query: self.force ? ["force": "true"] : [:]) }
            var confirmation: String? { "deleted \(fullName(topic: self.topic))" }
        }

        struct DeletePartitioned: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "delete-partitioned-topic", abstract: "Delete a partitioned topic.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Flag(name: [.customShort("f"), .long], help: "Delete it even with producers, consumers or subscriptions.") var force = false
            func request() throws(AdminError) -> AdminRequest {
                .delete(try Topics.path(self.topic, "/partitions"), query: self.force ? ["force": "true"] : [:])
            }
            var confirmation: String? { "deleted \(fullName(topic: self.topic))" }
        }

        struct Stats: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show a topic's statistics.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try Topics.path(self.topic, "/stats")) }
        }

        struct PartitionedStats: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "partitioned-stats", abstract: "Show a partitioned topic's statistics.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            @Flag(name: .customLong("per-partition"), help: "Include each partition's.") var perPartition = false
            func request() throws(AdminError) -> AdminRequest {
                .get(try Topics.path(self.topic, "/partitioned-stats"), query: self.perPartition ? ["perPartition": "true"] : [:])
            }
        }

        struct InternalStats: AdminCommand {
            static let configuration = CommandConfiguration(
                commandName: "stats-internal", abstract: "Show a topic's ledgers and cursors.", aliases: ["internal-stats"]
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try Topics.path(self.topic, "/internalStats")) }
        }

        struct LastMessageID: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "last-message-id", abstract: "Show the id of a topic's last message.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try Topics.path(self.topic, "/lastMessageId")) }
        }

        struct Terminate: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Close a topic to producers for good.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .post(try Topics.path(self.topic, "/terminate")) }
            var confirmation: String? { "terminated \(fullName(topic: self.topic))" }
        }

        struct Unload: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Unload a topic from its broker.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .put(try Topics.path(self.topic, "/unload")) }
            var confirmation: String? { "unloaded \(fullName(topic: self.topic))" }
        }

        struct Lookup: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show the broker that serves a topic.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try AdminName.topic(self.topic).lookupPath) }
        }

        struct BundleRange: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "bundle-range", abstract: "Show the bundle a topic belongs to.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The topic.") var topic: String
            func request() throws(AdminError) -> AdminRequest { .get(try AdminName.topic(self.topic).lookupPath + "/bundle") }
        }
    }
}
