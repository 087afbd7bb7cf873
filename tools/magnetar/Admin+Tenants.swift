import ArgumentParser
import Foundation
import MagnetarHTTP
import MagnetarHTTPClient

extension Admin {
    /// `clusters list|get`.
    struct Clusters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clusters", abstract: "List clusters and show their configuration.", subcommands: [List.self, Get.self]
        )

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List the clusters.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/clusters") }
        }

        struct Get: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show a cluster's configuration.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The cluster's name.") var cluster: String
            func request() -> AdminRequest { .get("/admin/v2/clusters/\(AdminRequest.segment(self.cluster))") }
        }
    }

    /// `tenants list|get|create|update|delete`.
    struct Tenants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tenants", abstract: "Create, update, list and delete tenants.",
            subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self]
        )

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List the tenants.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/tenants") }
        }

        struct Get: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Show a tenant's admin roles and allowed clusters.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The tenant's name.") var tenant: String
            func request() -> AdminRequest { .get("/admin/v2/tenants/\(AdminRequest.segment(self.tenant))") }
        }

        /// The options `create` and `update` share.
        struct TenantInfoOptions: ParsableArguments {
            @Option(name: [.customShort("r"), .customLong("admin-roles")], help: "Comma-separated admin roles.")
            var adminRoles: String?
            @Option(name: [.customShort("c"), .customLong("allowed-clusters")], help: "Comma-separated clusters the tenant may use.")
            var allowedClusters: String?

            static func split(_ list: String) -> [String] {
                list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }

            /// Pulsar's TenantInfo body; each list given overrides the one in `current`.
            func body(current: (adminRoles: [String], allowedClusters: [String])) -> AdminJSON {
                let roles = self.adminRoles.map(Self.split) ?? current.adminRoles
                let clusters = self.allowedClusters.map(Self.split) ?? current.allowedClusters
                return .object([
                    "adminRoles": .array(roles.map(AdminJSON.string)), "allowedClusters": .array(clusters.map(AdminJSON.string)),
                ])
            }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a tenant.", discussion: "Without --allowed-clusters it may use every cluster."
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The tenant's name.") var tenant: String
            @OptionGroup var info: TenantInfoOptions

            /// Whether the cluster list must be read first, to allow them all.
            var needsClusters: Bool { self.info.allowedClusters == nil }

            func request(clusters: [String]) -> AdminRequest {
                .put("/admin/v2/tenants/\(AdminRequest.segment(self.tenant))", body: self.info.body(current: ([], clusters)))
            }

            func run() async throws {
                try await Admin.perform(self.options) { session in
                    var clusters: [String] = []
                    if self.needsClusters {
                        let answer = try await session.send(.get("/admin/v2/clusters"))
                        clusters = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String]) ?? []
                    }
                    session.show(try await session.send(self.request(clusters: clusters)), confirmation: "created tenant \(self.tenant)")
                }
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Change a tenant's admin roles or allowed clusters.", discussion: "A list not given is kept as it is."
            )
            @OptionGroup var options: AdminOptions
            @Argument(help: "The tenant's name.") var tenant: String
            @OptionGroup var info: TenantInfoOptions

            var needsCurrent: Bool { self.info.adminRoles == nil || self.info.allowedClusters == nil }

            /// The update, given the tenant's current TenantInfo JSON.
            func request(current: [String: Any]) -> AdminRequest {
                let roles = current["adminRoles"] as? [String] ?? []
                let clusters = current["allowedClusters"] as? [String] ?? []
                return .post("/admin/v2/tenants/\(AdminRequest.segment(self.tenant))", body: self.info.body(current: (roles, clusters)))
            }

            func run() async throws {
                try await Admin.perform(self.options) { session in
                    var current: [String: Any] = [:]
                    if self.needsCurrent {
                        let answer = try await session.send(.get("/admin/v2/tenants/\(AdminRequest.segment(self.tenant))"))
                        current = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]) ?? [:]
                    }
                    session.show(try await session.send(self.request(current: current)), confirmation: "updated tenant \(self.tenant)")
                }
            }
        }

        struct Delete: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a tenant.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The tenant's name.") var tenant: String
            @Flag(name: [.customShort("f"), .long], help: "Delete its namespaces and topics too.") var force = false
            func request() -> AdminRequest {
                .delete("/admin/v2/tenants/\(AdminRequest.segment(self.tenant))", query: self.force ? ["force": "true"] : [:])
            }
            var confirmation: String? { "deleted tenant \(self.tenant)" }
        }
    }

    /// `brokers list|leader-broker|namespaces|healthcheck`.
    struct Brokers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "brokers", abstract: "List brokers, the leader, their namespaces and health.",
            subcommands: [List.self, LeaderBroker.self, OwnedNamespaces.self, HealthCheck.self]
        )

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(abstract: "List a cluster's live brokers.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The cluster's name.") var cluster: String
            func request() -> AdminRequest { .get("/admin/v2/brokers/\(AdminRequest.segment(self.cluster))") }
        }

        struct LeaderBroker: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "leader-broker", abstract: "Show the leader broker.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/brokers/leaderBroker") }
        }

        struct OwnedNamespaces: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "namespaces", abstract: "List the bundles a broker owns.")
            @OptionGroup var options: AdminOptions
            @Argument(help: "The cluster's name.") var cluster: String
            @Option(help: "The broker, host:port of its web service.") var url: String
            func request() -> AdminRequest {
                var broker = Substring(self.url)
                if let scheme = broker.range(of: "://") { broker = broker[scheme.upperBound...] }
                while broker.hasSuffix("/") { broker = broker.dropLast() }
                return .get("/admin/v2/brokers/\(AdminRequest.segment(self.cluster))/\(AdminRequest.segment(String(broker)))/ownedNamespaces")
            }
            func lines(_ json: Any) -> [String]? { (json as? [String: Any])?.keys.sorted() }
        }

        struct HealthCheck: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "healthcheck", abstract: "Check that the broker serves.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/brokers/health") }
        }
    }

    /// `bookies list-bookies|racks-placement`.
    struct Bookies: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bookies", abstract: "List bookies and their rack placement; decommission one.",
            subcommands: [List.self, Racks.self, Decommission.self]
        )

        struct List: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "list-bookies", abstract: "List the bookies.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/bookies/all") }
            func lines(_ json: Any) -> [String]? {
                ((json as? [String: Any])?["bookies"] as? [[String: Any]])?.compactMap { $0["bookieId"] as? String }
            }
        }

        struct Racks: AdminCommand {
            static let configuration = CommandConfiguration(commandName: "racks-placement", abstract: "Show the bookies' rack placement.")
            @OptionGroup var options: AdminOptions
            func request() -> AdminRequest { .get("/admin/v2/bookies/racks-info") }
        }
    }
}
