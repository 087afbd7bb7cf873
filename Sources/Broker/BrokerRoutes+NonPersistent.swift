import Foundation
import Hummingbird
import MagnetarHTTP
import PulsarWire

extension BrokerRoutes {
    /// Non-persistent topics under Pulsar's `/admin/v2/non-persistent` paths: the list of
    /// a namespace's topics served now (every broker's; `?local=true`: this one's), and a
    /// topic's stats on the broker serving it (307 elsewhere).
    static func addNonPersistentRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        router.get("/admin/v2/non-persistent/{tenant}/{namespace}") { request, route in
            let (tenant, namespace) = try Self.namespace(route)
            let broker = try context()
            guard try await broker.policies(tenant: tenant, namespace: namespace) != nil else {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(namespace) does not exist")
            }
            if request.uri.queryParameters["local"] == "true" {
                return try Response.json(broker.localNonPersistentTopics(tenant: tenant, namespace: namespace))
            }
            return try Response.json(await broker.nonPersistentTopics(tenant: tenant, namespace: namespace))
        }
        router.get("/admin/v2/non-persistent/{tenant}/{namespace}/{topic}/stats") { request, route in
            let (tenant, namespace) = try Self.namespace(route)
            let name: TopicName
            do {
                name = try TopicName("non-persistent://\(tenant)/\(namespace)/\(route.pathParameter("topic"))")
            } catch {
                throw RESTError(.preconditionFailed, reason: "\(error)")
            }
            return try await Self.onOwner(context, request, name: name) { broker, name in
                guard let topic = broker.volatileTopics.all.first(where: { $0.name == name }) else {
                    throw BrokerError(.notFound, "\(name) has no producer or consumer now")
                }
                return try Response.json(await topic.stats())
            }
        }
    }
}
