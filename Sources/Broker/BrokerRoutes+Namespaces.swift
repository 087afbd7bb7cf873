import Codec
import Foundation
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import ManagedLedger
import Metadata
import NIOCore

extension BrokerRoutes {
    /// `GET /admin/v2/namespaces/{tenant}`, `PUT|GET /admin/v2/namespaces/{tenant}/{namespace}`,
    /// `POST|GET …/persistence` (Pulsar's PersistencePolicies JSON) and `POST|GET
    /// …/storageCompression` (`"none"`, `"lz4"` or `"zstd"`). Policy changes apply to topics
    /// loaded afterwards.
    static func addNamespaceRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        @Sendable func namespace(_ route: BasicRequestContext) throws -> (tenant: String, namespace: String) {
            let tenant = route.pathParameter("tenant")
            let namespace = route.pathParameter("namespace")
            for part in [tenant, namespace] where part.isEmpty || !part.allSatisfy({ $0.isLetter || $0.isNumber || "-_.=:".contains($0) }) {
                throw RESTError(.preconditionFailed, reason: "'\(part)' is not a valid tenant or namespace name")
            }
            return (tenant, namespace)
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
            try Response.json(try await context().namespaces(of: route.pathParameter("tenant")))
        }
        router.put("/admin/v2/namespaces/{tenant}/{namespace}") { _, route in
            let (tenant, name) = try namespace(route)
            do {
                try await context().createNamespace(tenant: tenant, namespace: name)
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
