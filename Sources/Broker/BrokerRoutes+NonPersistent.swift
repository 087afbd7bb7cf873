import Foundation
import Hummingbird
import MagnetarHTTP
import Metadata
import PulsarWire

extension BrokerRoutes {
    /// Non-persistent topics under Pulsar's `/admin/v2/non-persistent` paths: the list of
    /// a namespace's topics served now (every broker's; `?local=true`: this one's), a
    /// topic's stats on the broker serving it (307 elsewhere), and partitioned topics
    /// (created, listed and deleted; their partitions live like any non-persistent topic).
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
        router.get("/admin/v2/non-persistent/{tenant}/{namespace}/partitioned") { _, route in
            let (tenant, namespace) = try Self.namespace(route)
            return try Response.json(try await context().partitionedTopics(tenant: tenant, namespace: namespace, domain: "non-persistent"))
        }
        router.put("/admin/v2/non-persistent/{tenant}/{namespace}/{topic}/partitions") { request, route in
            let name = try Self.nonPersistentTopic(route)
            let count = try await Self.partitionCount(request, context().limits)
            let broker = try context()
            guard try await broker.policies(tenant: name.tenant, namespace: name.namespace) != nil else {
                throw RESTError(.notFound, reason: "namespace \(name.namespaceName) does not exist")
            }
            do {
                try await broker.createPartitionedTopic(name, partitions: count)
            } catch let error as MetadataError where error.code == .alreadyExists {
                throw RESTError(.conflict, reason: "partitioned topic \(name) already exists")
            }
            return Response(status: .noContent)
        }
        router.delete("/admin/v2/non-persistent/{tenant}/{namespace}/{topic}/partitions") { _, route in
            try await context().deleteNonPersistentPartitionedTopic(try Self.nonPersistentTopic(route))
            return Response(status: .noContent)
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

    /// The non-persistent topic of a route's `tenant`, `namespace` and `topic` (412 when they do not name one).
    static func nonPersistentTopic(_ route: BasicRequestContext) throws -> TopicName {
        var name = try Self.topic(route)
        name.persistent = false
        return name
    }
}
