import Foundation
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import Metadata
import PulsarWire

extension BrokerRoutes {
    /// The routes of a cluster of brokers: HTTP lookup (`/lookup/v2/topic/…`, with
    /// Pulsar's 307 redirects), a topic's bundle, bundle and namespace unload, the bundles
    /// of a namespace, the live brokers, the leader, and a broker's owned bundles. A
    /// request that the owner of a bundle must serve is redirected to it (307), as Pulsar
    /// does.
    static func addClusterRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        @Sendable func topic(_ route: BasicRequestContext) throws -> TopicName { try Self.topic(route) }
        for domain in ["persistent", "non-persistent"] {
            router.get("/lookup/v2/topic/\(domain)/{tenant}/{namespace}/{topic}") { request, route in
                var name = try topic(route)
                name.persistent = domain == "persistent"
                let authoritative = request.uri.queryParameters["authoritative"].map { $0 == "true" } ?? false
                switch try await Self.unready({ try await context().lookup(name, authoritative: authoritative) }) {
                case .connect(let broker):
                    // Pulsar's LookupData; the client insists on the TLS fields even when empty.
                    return try Response.json([
                        "brokerUrl": broker.pulsarURL, "brokerUrlTls": "", "httpUrl": broker.httpURL, "httpUrlTls": "", "nativeUrl": broker.pulsarURL,
                    ])
                case .redirect(let broker, let authoritative):
                    let path = "/lookup/v2/topic/\(domain)/\(name.tenant)/\(name.namespace)/\(name.local)?authoritative=\(authoritative)"
                    return Self.redirect(to: broker.httpURL + path)
                }
            }
        }
        router.get("/lookup/v2/topic/persistent/{tenant}/{namespace}/{topic}/bundle") { _, route in
            let name = try topic(route)
            let bundle = try await context().bundle(of: name)
            return Response.text(bundle.range.name)
        }
        router.put("/admin/v2/persistent/{tenant}/{namespace}/{topic}/unload") { request, route in
            // Its clients are told to reconnect; its ledger is closed cleanly. Its bundle
            // stays with its owner, which is where the request must go.
            let name = try topic(route)
            let broker = try context()
            let bundle = try await broker.bundle(of: name)
            if !broker.membership.serves(bundle), let owner = try await broker.owner(of: bundle), owner.brokerId != broker.membership.identity?.brokerId {
                return Self.redirect(to: owner.httpUrl + request.uri.description)
            }
            await broker.topics.unload(name)
            return Response(status: .noContent)
        }
        Self.addBundleRoutes(to: router, context)
        Self.addBrokerRoutes(to: router, context)
    }

    /// A 307 to `url`: the client sends the same request there.
    static func redirect(to url: String) -> Response {
        Response(status: .temporaryRedirect, headers: [.location: url])
    }

    /// Runs `body`, answering 503 when the broker says "retry" (starting, no leader yet,
    /// a bundle changing hands).
    static func unready<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BrokerError where error.code == .serviceNotReady {
            throw RESTError(.serviceUnavailable, reason: error.message)
        }
    }

    /// The tenant and namespace of a route, checked.
    static func namespace(_ route: BasicRequestContext) throws -> (tenant: String, namespace: String) {
        let tenant = route.pathParameter("tenant")
        let namespace = route.pathParameter("namespace")
        for (part, kind) in [(tenant, "tenant"), (namespace, "namespace")] {
            if let refusal = PulsarName.refusal(part, kind: kind) { throw RESTError(.preconditionFailed, reason: refusal) }
        }
        return (tenant, namespace)
    }
}
