import Foundation
import Hummingbird
import MagnetarHTTP
import PulsarWire
import Ledger
import Metadata

extension BrokerRoutes {
    /// Clusters (`GET /admin/v2/clusters[/{cluster}]`), tenants (`/admin/v2/tenants[/{tenant}]`:
    /// list, get, create, update, delete) and namespace deletion, with Pulsar's bodies
    /// (TenantInfo, ClusterData) and statuses.
    static func addTenantRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        router.get("/admin/v2/clusters") { _, _ in
            try Response.json(try await context().clusters())
        }
        router.get("/admin/v2/clusters/{cluster}") { _, route in
            let name = route.pathParameter("cluster")
            guard let info = try await context().cluster(name) else { throw RESTError(.notFound, reason: "cluster \(name) does not exist") }
            return try Response.json(info)
        }
        router.get("/admin/v2/tenants") { _, _ in
            try Response.json(try await context().tenants())
        }
        router.get("/admin/v2/tenants/{tenant}") { _, route in
            let name = try Self.tenant(route)
            guard let info = try await context().tenant(name) else { throw RESTError(.notFound, reason: "tenant \(name) does not exist") }
            return try Response.json(info)
        }
        @Sendable func put(_ request: Request, _ route: BasicRequestContext, create: Bool) async throws -> Response {
            let name = try Self.tenant(route)
            let body = try await request.collectBody()
            var info = TenantInfo()
            if body.readableBytes > 0 {
                do {
                    info = try JSONDecoder().decode(TenantInfo.self, from: Data(body.readableBytesView))
                } catch {
                    throw RESTError(.badRequest, reason: "the body is not tenant info (adminRoles, allowedClusters): \(error)")
                }
            }
            let broker = try context()
            if info.allowedClusters.isEmpty { info.allowedClusters = [broker.clusterName] }
            try await Self.mapped { try await broker.putTenant(name, info, create: create) }
            return Response(status: .noContent)
        }
        router.put("/admin/v2/tenants/{tenant}") { request, route in try await put(request, route, create: true) }
        router.post("/admin/v2/tenants/{tenant}") { request, route in try await put(request, route, create: false) }
        router.delete("/admin/v2/tenants/{tenant}") { request, route in
            let name = try Self.tenant(route)
            try await Self.mapped { try await context().deleteTenant(name, force: request.uri.queryParameters["force"] == "true") }
            return Response(status: .noContent)
        }
        router.delete("/admin/v2/namespaces/{tenant}/{namespace}") { request, route in
            let (tenant, namespace) = try Self.namespace(route)
            try await Self.mapped {
                try await context().deleteNamespace(tenant: tenant, namespace: namespace, force: request.uri.queryParameters["force"] == "true")
            }
            return Response(status: .noContent)
        }
    }

    /// The route's tenant, checked.
    static func tenant(_ route: BasicRequestContext) throws -> String {
        let tenant = route.pathParameter("tenant")
        if let refusal = PulsarName.refusal(tenant, kind: "tenant") { throw RESTError(.preconditionFailed, reason: refusal) }
        return tenant
    }
}

extension BrokerRoutes {
    /// `GET /admin/v2/bookies/all` (Pulsar's BookiesClusterInfo, each bookie with its
    /// address, state — `writable` or `read-only` — and rack) and `GET
    /// /admin/v2/bookies/racks-info` (bookies by rack group, then address).
    static func addBookieRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        struct Bookie: Encodable {
            var bookieId: String
            var address: String
            var state: String
            var rack: String
        }
        router.get("/admin/v2/bookies/all") { _, _ in
            let bookies = try await BookieRegistration.all(in: context().metadata).sorted { $0.id < $1.id }.map {
                Bookie(bookieId: $0.id, address: $0.address, state: $0.writable ? "writable" : "read-only", rack: $0.rack ?? "/default-rack")
            }
            return try Response.json(["bookies": bookies])
        }
        router.get("/admin/v2/bookies/racks-info") { _, _ in
            var group: [String: [String: String]] = [:]
            for bookie in try await BookieRegistration.all(in: context().metadata) {
                let host = bookie.address.split(separator: ":").first.map(String.init) ?? bookie.address
                group[bookie.address] = ["rack": bookie.rack ?? "/default-rack", "hostname": host]
            }
            return try Response.json(["default": group])
        }
    }
}
