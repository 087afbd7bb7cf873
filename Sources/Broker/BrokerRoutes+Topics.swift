import Foundation
import HTTPTypes
import Hummingbird
import MagnetarHTTP
import MagnetarHTTPClient
import ManagedLedger
import Metadata
import NIOCore
import PulsarWire

extension BrokerRoutes {
    /// The topic admin routes under `/admin/v2/persistent/{tenant}/{namespace}`: create,
    /// delete, list, partitions, stats, partitioned-stats, internal stats, last message id,
    /// examine. A request about one topic is served by its bundle's owner; any other
    /// broker redirects it there (307), as Pulsar does.
    static func addTopicRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        let base = "/admin/v2/persistent/{tenant}/{namespace}"
        let topicPath = "\(base)/{topic}"
        @Sendable func onOwner(
            _ request: Request, _ route: BasicRequestContext, _ body: @escaping @Sendable (BrokerContext, TopicName) async throws -> Response
        ) async throws -> Response {
            try await Self.onOwner(context, request, route, body)
        }
        router.get(RouterPath(base)) { _, route in
            let (tenant, namespace) = try Self.namespace(route)
            return try Response.json(try await context().persistentTopics(tenant: tenant, namespace: namespace))
        }
        router.get("\(base)/partitioned") { _, route in
            let (tenant, namespace) = try Self.namespace(route)
            return try Response.json(try await context().partitionedTopics(tenant: tenant, namespace: namespace))
        }
        router.put(RouterPath(topicPath)) { request, route in
            try await onOwner(request, route) { broker, name in
                try await broker.createTopic(name)
                return Response(status: .noContent)
            }
        }
        router.delete(RouterPath(topicPath)) { request, route in
            try await onOwner(request, route) { broker, name in
                try await broker.deleteTopic(name, force: request.uri.queryParameters["force"] == "true")
                return Response(status: .noContent)
            }
        }
        router.post("\(topicPath)/partitions") { request, route in
            let name = try Self.topic(route)
            let count = try await Self.partitionCount(request, context().limits)
            try await Self.mapped { try await context().updatePartitions(name, to: count) }
            return Response(status: .noContent)
        }
        router.delete("\(topicPath)/partitions") { request, route in
            let name = try Self.topic(route)
            let broker = try context()
            let force = request.uri.queryParameters["force"] == "true"
            return try await Self.mapped {
                for answer in try await broker.forEachPartition(of: name, "DELETE", suffix: "", query: force ? "force=true" : "")
                where answer.status != 204 && answer.status != 404 {
                    return Self.relayed(answer)
                }
                try await broker.metadata.delete(BrokerContext.partitionsKey(name))
                return Response(status: .noContent)
            }
        }
        router.get("\(topicPath)/stats") { request, route in
            try await onOwner(request, route) { broker, name in
                let topic = try await broker.existingTopic(name)
                return try Response.json(await topic.stats())
            }
        }
        router.get("\(topicPath)/partitioned-stats") { request, route in
            let name = try Self.topic(route)
            let broker = try context()
            return try await Self.mapped {
                let answers = try await broker.forEachPartition(of: name, "GET", suffix: "/stats")
                var total = TopicStats()
                var partitions: [String: TopicStats] = [:]
                for (index, answer) in answers.enumerated() {
                    guard answer.status == 200 else { return Self.relayed(answer) }
                    let stats = try JSONDecoder().decode(TopicStats.self, from: Data(answer.body))
                    total.add(stats)
                    partitions["\(name)-partition-\(index)"] = stats
                }
                return try Response.json(PartitionedTopicStats(
                    stats: total, metadata: ["partitions": answers.count],
                    partitions: request.uri.queryParameters["perPartition"] == "false" ? [:] : partitions
                ))
            }
        }
        router.get("\(topicPath)/internalStats") { request, route in
            try await onOwner(request, route) { broker, name in
                try Response.json(await broker.existingTopic(name).ledger.internalStats())
            }
        }
        router.get("\(topicPath)/lastMessageId") { request, route in
            try await onOwner(request, route) { broker, name in
                let last = try await broker.existingTopic(name).ledger.lastConfirmed
                return try Response.json(["ledgerId": last.ledgerID, "entryId": last.entryID, "partitionIndex": Int64(name.partitionIndex)])
            }
        }
        router.post("\(topicPath)/terminate") { request, route in
            try await onOwner(request, route) { broker, name in
                let last = try await broker.existingTopic(name).ledger.terminate()
                return try Response.json(["ledgerId": last.ledgerID, "entryId": last.entryID, "partitionIndex": Int64(name.partitionIndex)])
            }
        }
        router.get("\(topicPath)/examinemessage") { request, route in
            try await onOwner(request, route) { broker, name in
                let topic = try await broker.existingTopic(name)
                let initial = request.uri.queryParameters["initialPosition"].map(String.init) ?? "latest"
                guard initial == "earliest" || initial == "latest" else {
                    throw RESTError(.preconditionFailed, reason: "initialPosition must be earliest or latest")
                }
                let earliest = initial == "earliest"
                guard let offset = Int64(request.uri.queryParameters["messagePosition"].map(String.init) ?? "1"), offset >= 1 else {
                    throw RESTError(.preconditionFailed, reason: "messagePosition must be a number, 1 or more")
                }
                guard let position = await topic.position(fromEarliest: earliest, offset: offset) else {
                    throw BrokerError(.notFound, "\(name) has no message at that position")
                }
                guard let message = try await topic.entry(at: position) else { throw BrokerError(.notFound, "\(name) has no message at \(position)") }
                return Self.message(message)
            }
        }
        Self.addSubscriptionRoutes(to: router, context)
    }

    /// Runs `body` on the broker that serves the route's topic: here, or a 307 there.
    static func onOwner(
        _ context: @escaping @Sendable () throws -> BrokerContext, _ request: Request, _ route: BasicRequestContext,
        _ body: @escaping @Sendable (BrokerContext, TopicName) async throws -> Response
    ) async throws -> Response {
        try await Self.onOwner(context, request, name: try Self.topic(route), body)
    }

    /// Runs `body` on the broker that serves `name`: here, or a 307 there.
    static func onOwner(
        _ context: @escaping @Sendable () throws -> BrokerContext, _ request: Request, name: TopicName,
        _ body: @escaping @Sendable (BrokerContext, TopicName) async throws -> Response
    ) async throws -> Response {
        let broker = try context()
        let authoritative = request.uri.queryParameters["authoritative"] == "true"
        return try await Self.mapped {
            switch try await broker.server(of: name, authoritative: authoritative) {
            case .here:
                return try await body(broker, name)
            case .elsewhere(let url, let authoritative):
                // The leader's placement travels with the request, as in a lookup redirect.
                var target = url + request.uri.path
                var query = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("authoritative=") }.map(String.init)
                if authoritative { query.append("authoritative=true") }
                if !query.isEmpty { target += "?" + query.joined(separator: "&") }
                return Self.redirect(to: target)
            }
        }
    }

    /// A message as Pulsar's admin API returns it: the payload, with its id and metadata in headers.
    static func message(_ message: StoredMessage) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/octet-stream"
        for (name, value) in message.headers {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: message.payload))
    }

    /// A response relayed from another broker as it came.
    static func relayed(_ answer: HTTPClientResponse) -> Response {
        var headers = HTTPFields()
        if let type = answer.header("Content-Type") { headers[.contentType] = type }
        return Response(status: HTTPResponse.Status(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// The body as an integer (bare, or a JSON number); 400 otherwise.
    static func integerBody(_ request: Request, _ what: String) async throws -> Int {
        let text = String(buffer: try await request.collectBody()).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let value = Int(text) else { throw RESTError(.badRequest, reason: "the body must be \(what); got '\(text.prefix(100))'") }
        return value
    }

    /// The body as a number of partitions within `limits`; 412 otherwise.
    static func partitionCount(_ request: Request, _ limits: BrokerLimits) async throws -> Int {
        let text = String(buffer: try await request.collectBody()).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let count = Int(text), count > 0 else {
            throw RESTError(.preconditionFailed, reason: "the body must be a number of partitions above 0")
        }
        if let refusal = limits.partitionRefusal(count) { throw RESTError(.preconditionFailed, reason: refusal) }
        return count
    }

    /// Runs `body`, answering the broker's refusals with Pulsar's statuses: 404 not
    /// found, 409 exists, 412 not allowed, 503 retry.
    static func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as BrokerError {
            switch error.code {
            case .notFound: throw RESTError(.notFound, reason: error.message)
            case .conflict: throw RESTError(.conflict, reason: error.message)
            case .notAllowed, .invalidTopicName: throw RESTError(.preconditionFailed, reason: error.message)
            case .serviceNotReady: throw RESTError(.serviceUnavailable, reason: error.message)
            default: throw RESTError(.internalServerError, reason: error.message)
            }
        } catch let error as MetadataError where error.code == .notFound {
            throw RESTError(.notFound, reason: error.message)
        } catch let error as MetadataError where error.code == .alreadyExists {
            throw RESTError(.conflict, reason: error.message)
        }
    }
}

/// Pulsar's PartitionedTopicStats: the sum of the partitions' stats, the partition
/// count, and each partition's stats.
struct PartitionedTopicStats: Encodable {
    var stats: TopicStats
    var metadata: [String: Int]
    var partitions: [String: TopicStats]

    enum CodingKeys: String, CodingKey {
        case metadata, partitions
    }

    func encode(to encoder: any Encoder) throws {
        try self.stats.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.metadata, forKey: .metadata)
        try container.encode(self.partitions, forKey: .partitions)
    }
}
