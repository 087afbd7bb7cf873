import Foundation
import Hummingbird
import MagnetarHTTP
import NIOCore

extension BrokerRoutes {
    /// Set (POST), get (GET) and remove (DELETE) of a namespace's policies under Pulsar's
    /// paths: `retention`, `messageTTL`, `deduplication`, `autoTopicCreation`,
    /// `backlogQuota` (by `backlogQuotaType`; read back as `backlogQuotaMap`), and removal
    /// of `persistence` and `storageCompression`. A policy that is not set reads as 204
    /// No Content. 400 for a body that is not the policy, 412 for a value out of range.
    static func addPolicyRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        @Sendable func update(_ route: BasicRequestContext, _ change: @escaping @Sendable (inout NamespacePolicies) throws -> Void) async throws -> Response {
            let (tenant, namespace) = try Self.namespace(route)
            try await Self.mapped { try await context().updatePolicies(tenant: tenant, namespace: namespace, change) }
            return Response(status: .noContent)
        }
        @Sendable func read(_ route: BasicRequestContext) async throws -> NamespacePolicies {
            let (tenant, namespace) = try Self.namespace(route)
            guard let policies = try await context().policies(tenant: tenant, namespace: namespace) else {
                throw RESTError(.notFound, reason: "namespace \(tenant)/\(namespace) does not exist")
            }
            return policies
        }
        @Sendable func answer<Value: Encodable & Sendable>(_ value: Value?) throws -> Response {
            guard let value else { return Response(status: .noContent) }
            return try Response.json(value)
        }
        func policy<Value: Codable & Sendable>(
            _ path: String, _ what: String, get: @escaping @Sendable (NamespacePolicies) -> Value?,
            set: @escaping @Sendable (inout NamespacePolicies, Value?) -> Void, validate: @escaping @Sendable (Value) throws(BrokerError) -> Void = { _ in }
        ) {
            let full = "/admin/v2/namespaces/{tenant}/{namespace}/\(path)"
            router.get(RouterPath(full)) { _, route in try answer(get(try await read(route))) }
            router.post(RouterPath(full)) { request, route in
                let value: Value = try Self.decodeBody(try await request.collectBody(), what)
                try Self.mapped { () throws(BrokerError) in try validate(value) }
                return try await update(route) { set(&$0, value) }
            }
            router.delete(RouterPath(full)) { _, route in try await update(route) { set(&$0, nil) } }
        }
        policy("retention", "retention policies (retentionTimeInMinutes, retentionSizeInMB)", get: \.retention, set: { $0.retention = $1 }) { value throws(BrokerError) in
            try value.validate()
        }
        policy("messageTTL", "a number of seconds", get: \.messageTTLSeconds, set: { $0.messageTTLSeconds = $1 }) { (value: Int) throws(BrokerError) in
            guard NamespacePolicies.ttlSeconds.contains(value) else {
                throw BrokerError(.notAllowed, "the message TTL must be 0 to \(Int32.max) seconds")
            }
        }
        policy("deduplication", "true or false", get: \.deduplicationEnabled, set: { $0.deduplicationEnabled = $1 })
        policy("autoTopicCreation", "auto topic creation (allowAutoTopicCreation, topicType, defaultNumPartitions)", get: \.autoTopicCreation, set: { $0.autoTopicCreation = $1 }) {
            value throws(BrokerError) in try value.validate()
        }
        router.delete("/admin/v2/namespaces/{tenant}/{namespace}/persistence") { _, route in try await update(route) { $0.persistence = nil } }
        router.delete("/admin/v2/namespaces/{tenant}/{namespace}/storageCompression") { _, route in try await update(route) { $0.storageCompression = nil } }
        router.get("/admin/v2/namespaces/{tenant}/{namespace}/backlogQuotaMap") { _, route in
            try Response.json(try await read(route).backlogQuotas ?? [:])
        }
        router.post("/admin/v2/namespaces/{tenant}/{namespace}/backlogQuota") { request, route in
            try await update(route, try await Self.settingBacklogQuota(request))
        }
        router.delete("/admin/v2/namespaces/{tenant}/{namespace}/backlogQuota") { request, route in
            try await update(route, Self.removingBacklogQuota(request))
        }
    }

    /// The change a POST of a backlog quota makes (by `backlogQuotaType`), checked.
    static func settingBacklogQuota(_ request: Request) async throws -> @Sendable (inout NamespacePolicies) -> Void {
        let type = request.uri.queryParameters["backlogQuotaType"].map(String.init) ?? "destination_storage"
        let quota: BacklogQuota = try Self.decodeBody(try await request.collectBody(), "a backlog quota (limitSize, limitTime, policy)")
        try Self.mapped { () throws(BrokerError) in try quota.validate(type: type) }
        return { $0.backlogQuotas = ($0.backlogQuotas ?? [:]).merging([type: quota]) { $1 } }
    }

    /// The change a DELETE of a backlog quota makes (by `backlogQuotaType`).
    static func removingBacklogQuota(_ request: Request) -> @Sendable (inout NamespacePolicies) -> Void {
        let type = request.uri.queryParameters["backlogQuotaType"].map(String.init) ?? "destination_storage"
        return { policies in
            policies.backlogQuotas?[type] = nil
            if policies.backlogQuotas?.isEmpty == true { policies.backlogQuotas = nil }
        }
    }

    /// The body decoded as JSON (a bare number or boolean is JSON too); 400 otherwise.
    static func decodeBody<Value: Decodable>(_ body: ByteBuffer, _ what: String) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body.readableBytesView))
        } catch {
            throw RESTError(.badRequest, reason: "the body must be \(what)")
        }
    }

    /// `mapped` for synchronous work.
    static func mapped<T>(_ body: () throws(BrokerError) -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw RESTError(error.code == .notFound ? .notFound : .preconditionFailed, reason: error.message)
        }
    }
}
