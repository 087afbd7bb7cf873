import ArgumentParser

extension Admin {
    /// `namespaces …`: pulsar-admin's namespace commands; the policy ones are in
    /// `Admin+NamespacePolicies.swift`.
    struct Namespaces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "namespaces",
            abstract: "Create, list, unload and delete namespaces; set their policies.",
            subcommands: [
                List.self, Create.self, Delete.self, Policies.self, Topics.self, Bundles.self, Unload.self, SplitBundle.self,
                SetPersistence.self, GetPersistence.self, RemovePersistence.self,
                SetRetention.self, GetRetention.self, RemoveRetention.self,
                SetMessageTTL.self, GetMessageTTL.self, RemoveMessageTTL.self,
                SetBacklogQuota.self, GetBacklogQuotas.self, RemoveBacklogQuota.self,
                SetDeduplication.self, GetDeduplication.self, RemoveDeduplication.self,
                SetStorageCompression.self, GetStorageCompression.self, RemoveStorageCompression.self,
                SetAutoTopicCreation.self, GetAutoTopicCreation.self, RemoveAutoTopicCreation.self,
            ]
        )

        /// `/admin/v2/namespaces/{tenant}/{namespace}` followed by `suffix`.
        static func path(_ namespace: String, _ suffix: String = "") throws(AdminError) -> String {
            try AdminName.namespace(namespace).adminPath + suffix
        }

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List a tenant's namespaces.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The tenant's name.") var tenant: String
            func request() -> AdminRequest { .get("/admin/v2/namespaces/\(AdminRequest.segment(self.tenant))") }
        }

        struct Create: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Create a namespace.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            @Option(name: [.customShort("b"), .long], help: "The number of bundles to start with.") var bundles: Int?
            @Option(name: [.customShort("c"), .long], help: "Comma-separated replication clusters.") var clusters: String?

            func request() throws(AdminError) -> AdminRequest {
                var policies: [String: AdminJSON] = [:]
                if let bundles = self.bundles {
                    guard bundles > 0 else { throw AdminError(.invalidArgument, "--bundles must be above 0") }
                    policies["bundles"] = .object(["numBundles": .int(Int64(bundles))])
                }
                if let clusters = self.clusters {
                    policies["replication_clusters"] = .array(Tenants.TenantInfoOptions.split(clusters).map(AdminJSON.string))
                }
                return .put(try Namespaces.path(self.namespace), body: policies.isEmpty ? nil : .object(policies))
            }
            var confirmation: String? { "created namespace \(self.namespace)" }
        }

        struct Delete: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a namespace.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            @Flag(name: [.customShort("f"), .long], help: "Delete its topics too.") var force = false
            func request() throws(AdminError) -> AdminRequest {
                .delete(try Namespaces.path(self.namespace), query: self.force ? ["force": "true"] : [:])
            }
            var confirmation: String? { "deleted namespace \(self.namespace)" }
        }

        struct Policies: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show all of a namespace's policies.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            func request() throws(AdminError) -> AdminRequest { .get(try Namespaces.path(self.namespace)) }
        }

        struct Topics: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List a namespace's topics.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            func request() throws(AdminError) -> AdminRequest { .get(try Namespaces.path(self.namespace, "/topics")) }
        }

        struct Bundles: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show a namespace's bundles (boundaries and count).")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            func request() throws(AdminError) -> AdminRequest { .get(try Namespaces.path(self.namespace, "/bundles")) }
        }

        struct Unload: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Unload a namespace, or one bundle of it, from its brokers.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            @Option(name: [.customShort("b"), .long], help: "The bundle, {start}_{end}.") var bundle: String?
            func request() throws(AdminError) -> AdminRequest {
                .put(try Namespaces.path(self.namespace, self.bundle.map { "/\(AdminRequest.segment($0))" } ?? "") + "/unload")
            }
            var confirmation: String? { "unloaded \(self.namespace)" + (self.bundle.map { "/\($0)" } ?? "") }
        }

        struct SplitBundle: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "split-bundle", abstract: "Split a bundle in two.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "tenant/namespace") var namespace: String
            @Option(name: [.customShort("b"), .long], help: "The bundle, {start}_{end}.") var bundle: String
            @Flag(name: [.customShort("u"), .long], help: "Unload the two new bundles.") var unload = false
            func request() throws(AdminError) -> AdminRequest {
                .put(
                    try Namespaces.path(self.namespace, "/\(AdminRequest.segment(self.bundle))/split"),
                    query: self.unload ? ["unload": "true"] : [:]
                )
            }
            var confirmation: String? { "split \(self.namespace)/\(self.bundle)" }
        }
    }
}
