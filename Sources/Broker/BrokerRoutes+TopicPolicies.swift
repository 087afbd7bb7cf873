import Foundation
import Hummingbird
import MagnetarHTTP
import NIOCore
import PulsarWire

extension BrokerRoutes {
    /// A topic's own policies under Pulsar's topic-policy paths, which win over its
    /// namespace's: `retention`, `messageTTL` (set with `?messageTTL=`),
    /// `deduplicationEnabled` and `backlogQuota` (by `backlogQuotaType`; read back as
    /// `backlogQuotaMap`), each with GET, POST and DELETE. A policy the topic does not set
    /// reads as 204 No Content.
    static func addTopicPolicyRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        let base = "/admin/v2/persistent/{tenant}/{namespace}/{topic}"
        @Sendable func update(_ route: BasicRequestContext, _ change: @escaping @Sendable (inout NamespacePolicies) throws -> Void) async throws -> Response {
            let name = try Self.topic(route)
            try await Self.mapped { try await context().updateTopicPolicies(name, change) }
            return Response(status: .noContent)
        }
        @Sendable func read(_ route: BasicRequestContext) async throws -> NamespacePolicies {
            let name = try Self.topic(route)
            return try await Self.mapped {
                guard try await context().policies(tenant: name.tenant, namespace: name.namespace) != nil else {
                    throw BrokerError(.notFound, "namespace \(name.tenant)/\(name.namespace) does not exist")
                }
                return try await context().topicPolicies(name)
            }
        }
        @Sendable func answer<Value: Encodable & Sendable>(_ value: Value?) throws -> Response {
            guard let value else { return Response(status: .noContent) }
            return try Response.json(value)
        }
        router.get("\(base)/retention") { _, route in try answer(try await read(route).retention) }
        router.post("\(base)/retention") { request, route in
            let value: RetentionPolicies = try Self.decodeBody(try await request.collectBody(), "retention policies (retentionTimeInMinutes, retentionSizeInMB)")
            try Self.mapped { () throws(BrokerError) in try value.validate() }
            return try await update(route) { $0.retention = value }
        }
        router.delete("\(base)/retention") { _, route in try await update(route) { $0.retention = nil } }
        router.get("\(base)/messageTTL") { _, route in try answer(try await read(route).messageTTLSeconds) }
        router.post("\(base)/messageTTL") { request, route in
            guard let text = request.uri.queryParameters["messageTTL"], let seconds = Int(text), NamespacePolicies.ttlSeconds.contains(seconds) else {
                throw RESTError(.preconditionFailed, reason: "messageTTL must be a number of seconds from 0 to \(Int32.max)")
            }
            return try await update(route) { $0.messageTTLSeconds = seconds }
        }
        router.delete("\(base)/messageTTL") { _, route in try await update(route) { $0.messageTTLSeconds = nil } }
        router.get("\(base)/deduplicationEnabled") { _, route in try answer(try await read(route).deduplicationEnabled) }
        router.post("\(base)/deduplicationEnabled") { request, route in
            let value: Bool = try Self.decodeBody(try await request.collectBody(), "true or false")
            return try await update(route) { $0.deduplicationEnabled = value }
        }
        router.delete("\(base)/deduplicationEnabled") { _, route in try await update(route) { $0.deduplicationEnabled = nil } }
        router.get("\(base)/backlogQuotaMap") { _, route in try Response.json(try await read(route).backlogQuotas ?? [:]) }
        router.post("\(base)/backlogQuota") { request, route in try await update(route, try await Self.settingBacklogQuota(request)) }
        router.delete("\(base)/backlogQuota") { request, route in try await update(route, Self.removingBacklogQuota(request)) }
    }
}
