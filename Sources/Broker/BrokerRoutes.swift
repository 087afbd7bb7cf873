import Codec
import Foundation
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import ManagedLedger
import Metadata
import NIOCore
import Prometheus
import PulsarWire

/// The broker's REST API on Hummingbird: the endpoints Pulsar's clients call themselves
/// (partitioned-topic metadata, HTTP lookup, a namespace's topics), the namespace admin
/// API (see ``addNamespaceRoutes(to:_:)``), the cluster's routes (bundles, unload,
/// brokers: ``addClusterRoutes(to:_:)``), health checks and Prometheus metrics. Errors
/// are `{"reason": …}` with Pulsar's statuses; a route that needs the broker answers 503
/// while it is starting.
enum BrokerRoutes {
    /// Every route; `/metrics` serves `registry` (and is absent without one).
    static func router(_ shared: ContextBox, registry: PrometheusCollectorRegistry?) -> Router<BasicRequestContext> {
        let router = Router.rest()
        @Sendable func context() throws -> BrokerContext {
            guard let context = shared.context else { throw RESTError(.serviceUnavailable, reason: "the broker is starting") }
            return context
        }
        @Sendable func topic(_ route: BasicRequestContext) throws -> TopicName { try Self.topic(route) }
        for domain in ["persistent", "non-persistent"] {
            router.get("/admin/v2/\(domain)/{tenant}/{namespace}/{topic}/partitions") { _, route in
                var name = try topic(route)
                name.persistent = domain == "persistent"
                return try Response.json(["partitions": try await context().partitions(of: name)])
            }
        }
        router.put("/admin/v2/persistent/{tenant}/{namespace}/{topic}/partitions") { request, route in
            let name = try topic(route)
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
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/topics") { _, route in
            let topics = try await context().topics(tenant: route.pathParameter("tenant"), namespace: route.pathParameter("namespace"))
            return try Response.json(topics)
        }
        Self.addNamespaceRoutes(to: router, context)
        Self.addPolicyRoutes(to: router, context)
        Self.addTopicPolicyRoutes(to: router, context)
        Self.addNonPersistentRoutes(to: router, context)
        Self.addTenantRoutes(to: router, context)
        Self.addTopicRoutes(to: router, context)
        Self.addBookieRoutes(to: router, context)
        Self.addDecommissionRoutes(to: router, context)
        Self.addClusterRoutes(to: router, context)
        Self.addHealthRoutes(to: router, shared: shared, registry: registry)
        return router
    }

    /// The topic of a route's `tenant`, `namespace` and `topic` parameters (412 when they
    /// do not name one).
    static func topic(_ route: BasicRequestContext) throws -> TopicName {
        let path = "\(route.pathParameter("tenant"))/\(route.pathParameter("namespace"))/\(route.pathParameter("topic"))"
        do {
            return try TopicName("persistent://\(path)")
        } catch {
            throw RESTError(.preconditionFailed, reason: error.message)
        }
    }

    /// `GET /admin/v2/brokers/health` and `GET /health` ("ok" once the broker serves, 503
    /// while it starts) and `GET /metrics` (Prometheus text of `registry`).
    private static func addHealthRoutes(to router: Router<BasicRequestContext>, shared: ContextBox, registry: PrometheusCollectorRegistry?) {
        @Sendable func health(_: Request, _: BasicRequestContext) throws -> Response {
            guard shared.context != nil else { throw RESTError(.serviceUnavailable, reason: "the broker is starting") }
            return .text("ok")
        }
        router.get("/admin/v2/brokers/health", use: health)
        router.get("/health", use: health)
        if let registry {
            router.get("/metrics") { _, _ in
                var text: [UInt8] = []
                registry.emit(into: &text)
                if let context = shared.context { text += Array(await context.pulsarMetrics().utf8) }
                return Response(status: .ok, headers: [.contentType: Response.prometheusContentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
            }
        }
    }
}

extension BrokerRoutes {
    /// `GET /admin/v2/namespaces/{tenant}`, `PUT|GET /admin/v2/namespaces/{tenant}/{namespace}`,
    /// `POST|GET …/persistence` (Pulsar's PersistencePolicies JSON) and `POST|GET
    /// …/storageCompression` (`"none"`, `"lz4"` or `"zstd"`). Policy changes apply to topics
    /// loaded afterwards.
    static func addNamespaceRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        @Sendable func namespace(_ route: BasicRequestContext) throws -> (tenant: String, namespace: String) {
            try Self.namespace(route)
        }
        @Sendable func policies(_ route: BasicRequestContext) async throws -> NamespacePolicies {
            let (tenant, name) = try namespace(route)
            guard let policies = try await context().policies(tenant: tenant, namespace: name) else {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(name) does not exist")
            }
            return policies
        }
        @Sendable func update(
            _ route: BasicRequestContext,
            _ change: @escaping (inout NamespacePolicies) throws -> Void
        ) async throws -> Response {
            let (tenant, name) = try namespace(route)
            do {
                try await context().updatePolicies(tenant: tenant, namespace: name, change)
            } catch let error as MetadataError where error.code == .notFound {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(name) does not exist")
            }
            return Response(status: .noContent)
        }
        router.get("/admin/v2/namespaces/{tenant}") { _, route in
            let tenant = try Self.tenant(route)
            let broker = try context()
            guard try await broker.tenant(tenant) != nil else { throw RESTError(.notFound, reason: "tenant \(tenant) does not exist") }
            return try Response.json(try await broker.namespaces(of: tenant))
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}") { request, route in
            let (tenant, name) = try namespace(route)
            // Pulsar's Policies may come with it (`{"bundles": {"numBundles": 16}}`).
            let body = try await request.collectBody()
            var policies = NamespacePolicies()
            if body.readableBytes > 0 {
                do {
                    policies = try JSONDecoder().decode(NamespacePolicies.self, from: Data(body.readableBytesView))
                } catch {
                    throw RESTError(.badRequest, reason: "the body is not namespace policies: \(error)")
                }
                do throws(BrokerError) {
                    try policies.persistence?.validate()
                    _ = try policies.storageCompression.map { text throws(BrokerError) in try CompressionType(policy: text) }
                } catch {
                    throw RESTError(.preconditionFailed, reason: error.message)
                }
            }
            guard try await context().tenant(tenant) != nil else { throw RESTError(.notFound, reason: "tenant \(tenant) does not exist") }
            do {
                try await context().createNamespace(tenant: tenant, namespace: name, policies: policies)
            } catch let error as MetadataError where error.code == .alreadyExists {
                throw RESTError(.conflict, reason: "namespace \(tenant)/\(name) already exists")
            }
            return Response(status: .noContent)
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}") { _, route in
            try Response.json(try await policies(route))
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/persistence") { _, route in
            let stored = try await policies(route).persistence
            let broker = try context()
            let persistence = stored ?? PersistencePolicies(
                ensemble: broker.ledgerConfiguration.ensembleSize, writeQuorum: broker.ledgerConfiguration.writeQuorum,
                ackQuorum: broker.ledgerConfiguration.ackQuorum
            )
            return try Response.json(persistence)
        }
        router.post("/admin/v2/namespaces/{tenant}/{namespace}/persistence") { request, route in
            let bytes = try await request.collectBody()
            guard let persistence = try? JSONDecoder().decode(PersistencePolicies.self, from: Data(bytes.readableBytesView)) else {
                throw RESTError(
                    .badRequest, reason: "the body is not persistence policies (bookkeeperEnsemble, bookkeeperWriteQuorum, bookkeeperAckQuorum)"
                )
            }
            do throws(BrokerError) {
                try persistence.validate()
            } catch {
                throw RESTError(.preconditionFailed, reason: error.message)
            }
            return try await update(route) { $0.persistence = persistence }
        }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/storageCompression") { _, route in
            let stored = try await policies(route).storageCompression
            return try Response.json(stored ?? context().defaultCompression.policyName)
        }
        router.post("/admin/v2/namespaces/{tenant}/{namespace}/storageCompression") { request, route in
            let text = String(buffer: try await request.collectBody()).trimmingCharacters(in: .whitespacesAndNewlines)
            let name = (try? JSONDecoder().decode(String.self, from: Data(text.utf8))) ?? text
            let compression: CompressionType
            do throws(BrokerError) {
                compression = try CompressionType(policy: name)
            } catch {
                throw RESTError(.preconditionFailed, reason: error.message)
            }
            return try await update(route) { $0.storageCompression = compression.policyName }
        }
    }
}
