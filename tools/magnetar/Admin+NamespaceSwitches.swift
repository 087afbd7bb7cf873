import ArgumentParser

/// The namespace policies that are switched on or off or pick one setting:
/// deduplication, storage compression and automatic topic creation.
extension Admin.Namespaces {
    /// `--enable/-e` or `--disable/-d`, exactly one of them.
    struct Switch: ParsableArguments {
        @Flag(name: [.customShort("e"), .long], help: "Turn it on.") var enable = false
        @Flag(name: [.customShort("d"), .long], help: "Turn it off.") var disable = false

        func validate() throws {
            guard self.enable != self.disable else { throw ValidationError("give exactly one of --enable and --disable") }
        }
    }

    struct SetDeduplication: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "set-deduplication", abstract: "Turn message deduplication on or off.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @OptionGroup var choice: Switch
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Namespaces.path(self.namespace, "/deduplication"), body: .bool(self.choice.enable))
        }
        var confirmation: String? { "\(self.choice.enable ? "enabled" : "disabled") deduplication of \(self.namespace)" }
    }

    struct GetDeduplication: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-deduplication", abstract: "Show whether deduplication is on.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/deduplication")) }
    }

    struct RemoveDeduplication: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "remove-deduplication", abstract: "Remove the deduplication setting.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/deduplication")) }
        var confirmation: String? { "removed deduplication setting of \(self.namespace)" }
    }

    /// How a namespace's entries are compressed in storage.
    enum StorageCompression: String, CaseIterable, Sendable, ExpressibleByArgument {
        case none, lz4, zstd
    }

    struct SetStorageCompression: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-storage-compression", abstract: "Choose how entries are compressed in storage."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @Option(name: [.customShort("c"), .long], help: "The compression.") var compression: StorageCompression
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Namespaces.path(self.namespace, "/storageCompression"), body: .string(self.compression.rawValue))
        }
        var confirmation: String? { "set storage compression of \(self.namespace) to \(self.compression.rawValue)" }
    }

    struct GetStorageCompression: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-storage-compression", abstract: "Show the storage compression.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/storageCompression")) }
    }

    struct RemoveStorageCompression: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-storage-compression", abstract: "Go back to the broker's storage compression."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/storageCompression")) }
        var confirmation: String? { "removed storage compression of \(self.namespace)" }
    }

    /// The kind of topic created automatically.
    enum AutoTopicType: String, CaseIterable, Sendable, ExpressibleByArgument {
        case partitioned
        case nonPartitioned = "non-partitioned"
    }

    struct SetAutoTopicCreation: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-auto-topic-creation", abstract: "Allow or forbid creating topics on first use, overriding the broker."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        @OptionGroup var choice: Switch
        @Option(name: [.customShort("t"), .long], help: "The kind of topic created.") var type: AutoTopicType = .nonPartitioned
        @Option(name: [.customShort("n"), .customLong("num-partitions")], help: "Partitions of a partitioned topic created.")
        var partitions: Int?

        func request() throws(AdminError) -> AdminRequest {
            var body: [String: AdminJSON] = ["allowAutoTopicCreation": .bool(self.choice.enable)]
            if self.choice.enable {
                body["topicType"] = .string(self.type.rawValue)
                if self.type == .partitioned {
                    guard let partitions = self.partitions, partitions > 0 else {
                        throw AdminError(.invalidArgument, "partitioned topics need --num-partitions above 0")
                    }
                    body["defaultNumPartitions"] = .int(Int64(partitions))
                }
            }
            return .post(try Admin.Namespaces.path(self.namespace, "/autoTopicCreation"), body: .object(body))
        }
        var confirmation: String? { "\(self.choice.enable ? "enabled" : "disabled") auto topic creation of \(self.namespace)" }
    }

    struct GetAutoTopicCreation: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "get-auto-topic-creation", abstract: "Show the auto topic creation override.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Namespaces.path(self.namespace, "/autoTopicCreation")) }
    }

    struct RemoveAutoTopicCreation: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-auto-topic-creation", abstract: "Remove the auto topic creation override."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "tenant/namespace") var namespace: String
        func request() throws(AdminError) -> AdminRequest { .delete(try Admin.Namespaces.path(self.namespace, "/autoTopicCreation")) }
        var confirmation: String? { "removed auto topic creation override of \(self.namespace)" }
    }
}
