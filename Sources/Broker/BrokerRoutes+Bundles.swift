import Foundation
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import Metadata

extension BrokerRoutes {
    /// `GET /admin/v2/namespaces/{t}/{ns}/bundles`, `PUT …/{bundle}/unload` (with
    /// Pulsar's `destinationBroker` to choose the next owner), `PUT …/{bundle}/split`
    /// (with `unload`) and `PUT …/unload` (every bundle of the namespace, wherever it is
    /// owned).
    static func addBundleRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/bundles") { _, route in
            let (tenant, namespace) = try Self.namespace(route)
            let broker = try context()
            guard try await broker.policies(tenant: tenant, namespace: namespace) != nil else {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(namespace) does not exist")
            }
            return try Response.json(try await broker.bundleLayout(tenant: tenant, namespace: namespace))
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}/{bundle}/unload") { request, route in
            let (tenant, namespace) = try Self.namespace(route)
            let broker = try context()
            let layout = try await broker.bundleLayout(tenant: tenant, namespace: namespace)
            let name = route.pathParameter("bundle")
            guard let range = layout.range(named: name) else {
                throw RESTError(.preconditionFailed, reason: "'\(name)' is not a bundle of \(tenant)/\(namespace) (see its bundles)")
            }
            let bundle = Bundle(tenant: tenant, namespace: namespace, range: range)
            if let destination = request.uri.queryParameters["destinationBroker"].map(String.init), !destination.isEmpty {
                // The leader places bundles: it notes where this one goes, then has it unloaded.
                guard broker.membership.isLeader else {
                    guard let leader = broker.membership.leader else { throw RESTError(.serviceUnavailable, reason: "no leader broker is elected yet") }
                    return Self.redirect(to: leader.serviceUrl + request.uri.description)
                }
                guard try await broker.registrations().contains(where: { $0.brokerId == destination }) else {
                    throw RESTError(.preconditionFailed, reason: "broker '\(destination)' is not available")
                }
                broker.membership.setDestination(bundle.description, destination)
                if let owner = try await broker.owner(of: bundle) {
                    await broker.requestUnload(bundleNamed: bundle.description, at: owner.address)
                }
                return Response(status: .noContent)
            }
            if await broker.unloadBundle(bundle) { return Response(status: .noContent) }
            if let owner = try await broker.owner(of: bundle), owner.brokerId != broker.membership.identity?.brokerId {
                return Self.redirect(to: owner.httpUrl + request.uri.description)
            }
            return Response(status: .noContent)  // Not owned by anyone: nothing to unload.
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}/{bundle}/split") { request, route in
            let (tenant, namespace) = try Self.namespace(route)
            let broker = try context()
            let name = route.pathParameter("bundle")
            guard let range = try await broker.bundleLayout(tenant: tenant, namespace: namespace).range(named: name) else {
                throw RESTError(.preconditionFailed, reason: "'\(name)' is not a bundle of \(tenant)/\(namespace) (see its bundles)")
            }
            let bundle = Bundle(tenant: tenant, namespace: namespace, range: range)
            guard broker.membership.serves(bundle) else {
                if let owner = try await broker.owner(of: bundle), owner.brokerId != broker.membership.identity?.brokerId {
                    return Self.redirect(to: owner.httpUrl + request.uri.description)
                }
                throw RESTError(.preconditionFailed, reason: "\(bundle) is not owned by any broker; look one of its topics up first")
            }
            do {
                try await broker.splitBundle(bundle, unload: request.uri.queryParameters["unload"] == "true")
            } catch let error as BrokerError where error.code == .notAllowed {
                throw RESTError(.preconditionFailed, reason: error.message)
            }
            return Response(status: .noContent)
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}/unload") { _, route in
            let (tenant, namespace) = try Self.namespace(route)
            let broker = try context()
            guard try await broker.policies(tenant: tenant, namespace: namespace) != nil else {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(namespace) does not exist")
            }
            try await broker.unloadNamespace(tenant: tenant, namespace: namespace)
            return Response(status: .noContent)
        }
    }

    /// `GET /admin/v2/brokers/{cluster}` (the live brokers' ids), `GET
    /// /admin/v2/brokers/leaderBroker`, and `GET /admin/v2/brokers/{cluster}/{broker}/ownedNamespaces`.
    static func addBrokerRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        router.get("/admin/v2/brokers/leaderBroker") { _, _ in
            guard let leader = try context().membership.leader else { throw RESTError(.notFound, reason: "no leader broker is elected yet") }
            return try Response.json(["serviceUrl": leader.serviceUrl, "brokerId": leader.brokerId])
        }
        router.get("/admin/v2/brokers/{cluster}") { _, route in
            let broker = try context()
            let cluster = route.pathParameter("cluster")
            let registrations = try await broker.registrations().filter { $0.cluster == cluster }
            guard !registrations.isEmpty || cluster == broker.clusterName else {
                throw RESTError(.notFound, reason: "cluster \(cluster) does not exist")
            }
            return try Response.json(registrations.map(\.brokerId).sorted())
        }
        router.get("/admin/v2/brokers/{cluster}/{broker}/ownedNamespaces") { request, route in
            let broker = try context()
            let id = route.pathParameter("broker")
            if id != broker.membership.identity?.brokerId {
                guard let registration = try await broker.registrations().first(where: { $0.brokerId == id }) else {
                    throw RESTError(.notFound, reason: "broker \(id) is not available")
                }
                return Self.redirect(to: registration.webServiceUrl + request.uri.description)
            }
            var owned: [String: OwnedBundleStatus] = [:]
            for bundle in broker.membership.ownership.owned() where broker.membership.serves(bundle) {
                owned[bundle.description] = OwnedBundleStatus()
            }
            return try Response.json(owned)
        }
    }
}

/// Pulsar's NamespaceOwnershipStatus of a bundle.
private struct OwnedBundleStatus: Encodable {
    var broker_assignment = "shared"
    var is_controlled = false
    var is_active = true
}
