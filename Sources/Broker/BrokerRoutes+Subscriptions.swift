import Foundation
import Hummingbird
import MagnetarHTTP
import ManagedLedger
import NIOCore
import PulsarWire

extension BrokerRoutes {
    /// The subscription routes of a topic (`…/subscriptions`, `…/subscription/{sub}` and
    /// its skip, clear-backlog, reset-cursor, expire and peek), served by the topic's owner.
    static func addSubscriptionRoutes(to router: Router<BasicRequestContext>, _ context: @escaping @Sendable () throws -> BrokerContext) {
        let topicPath = "/admin/v2/persistent/{tenant}/{namespace}/{topic}"
        let subscriptionPath = "\(topicPath)/subscription/{subscription}"
        @Sendable func onOwner(
            _ request: Request, _ route: BasicRequestContext, _ body: @escaping @Sendable (Topic, String) async throws -> Response
        ) async throws -> Response {
            let subscription = route.pathParameter("subscription")
            return try await Self.onOwner(context, request, route) { broker, name in
                try await body(try await broker.existingTopic(name), subscription)
            }
        }
        router.get("\(topicPath)/subscriptions") { request, route in
            try await Self.onOwner(context, request, route) { broker, name in
                try Response.json(await broker.existingTopic(name).subscriptionNames())
            }
        }
        router.put(RouterPath(subscriptionPath)) { request, route in
            let body = try await request.collectBody()
            let start = try Self.messageID(body)
            if let refusal = PulsarName.refusal(route.pathParameter("subscription"), kind: "subscription") {
                throw RESTError(.preconditionFailed, reason: refusal)
            }
            return try await onOwner(request, route) { topic, subscription in
                try await topic.createSubscription(subscription, at: start)
                return Response(status: .noContent)
            }
        }
        router.delete(RouterPath(subscriptionPath)) { request, route in
            try await onOwner(request, route) { topic, subscription in
                try await topic.deleteSubscription(subscription, force: request.uri.queryParameters["force"] == "true")
                return Response(status: .noContent)
            }
        }
        router.post("\(subscriptionPath)/skip/{count}") { request, route in
            guard let count = Int64(route.pathParameter("count")), count >= 0 else {
                throw RESTError(.preconditionFailed, reason: "the number of messages to skip must be 0 or more")
            }
            return try await onOwner(request, route) { topic, subscription in
                try await topic.skip(subscription, count: count)
                return Response(status: .noContent)
            }
        }
        router.post("\(subscriptionPath)/skip_all") { request, route in
            try await onOwner(request, route) { topic, subscription in
                try await topic.skip(subscription, count: nil)
                return Response(status: .noContent)
            }
        }
        router.post("\(subscriptionPath)/resetcursor/{timestamp}") { request, route in
            guard let time = UInt64(route.pathParameter("timestamp")) else {
                throw RESTError(.preconditionFailed, reason: "the time must be milliseconds since 1970")
            }
            return try await onOwner(request, route) { topic, subscription in
                var target = try await topic.firstPosition(publishedAtOrAfter: time)
                if target == nil { target = await topic.ledger.next(after: await topic.ledger.lastConfirmed) }
                guard let target else { return Response(status: .noContent) }
                try await topic.resetCursor(subscription, to: target)
                return Response(status: .noContent)
            }
        }
        router.post("\(subscriptionPath)/resetcursor") { request, route in
            guard let target = try Self.messageID(try await request.collectBody()) else {
                throw RESTError(.badRequest, reason: "the body must be a message id: {\"ledgerId\":…,\"entryId\":…}")
            }
            return try await onOwner(request, route) { topic, subscription in
                try await topic.resetCursor(subscription, to: target)
                return Response(status: .noContent)
            }
        }
        router.post("\(subscriptionPath)/expireMessages/{seconds}") { request, route in
            // At most about 30 000 years: the cutoff in milliseconds stays representable.
            guard let seconds = UInt64(route.pathParameter("seconds")), seconds < 1 << 40 else {
                throw RESTError(.preconditionFailed, reason: "the age must be a number of seconds")
            }
            return try await onOwner(request, route) { topic, subscription in
                let now = UInt64(Date().timeIntervalSince1970 * 1000)
                let cutoff = now > seconds * 1000 ? now - seconds * 1000 : 0
                try await topic.expire(subscription, publishedBefore: cutoff)
                return Response(status: .noContent)
            }
        }
        router.get("\(subscriptionPath)/position/{n}") { request, route in
            guard let n = Int(route.pathParameter("n")), n >= 1 else {
                throw RESTError(.preconditionFailed, reason: "the message position must be 1 or more")
            }
            return try await onOwner(request, route) { topic, subscription in
                guard let message = try await topic.peek(subscription, n) else {
                    throw BrokerError(.notFound, "subscription \(subscription) has fewer than \(n) messages in its backlog")
                }
                return Self.message(message)
            }
        }
    }

    /// A message id body (`{"ledgerId":…,"entryId":…}`): nil for an empty body or
    /// "latest" (Long.MAX_VALUE ids), the first position for "earliest" (-1 ids).
    static func messageID(_ body: ByteBuffer) throws -> Position? {
        guard body.readableBytes > 0 else { return nil }
        struct MessageID: Decodable {
            var ledgerId: Int64
            var entryId: Int64
        }
        guard let id = try? JSONDecoder().decode(MessageID.self, from: Data(body.readableBytesView)) else {
            throw RESTError(.badRequest, reason: "the body must be a message id: {\"ledgerId\":…,\"entryId\":…}")
        }
        if id.ledgerId == .max { return nil }
        if id.ledgerId < 0 { return Position(ledgerID: 0, entryID: 0) }
        guard id.entryId >= -1 else {
            throw RESTError(.preconditionFailed, reason: "entry id \(id.entryId) is not a position: entry ids are -1 or more")
        }
        return Position(ledgerID: id.ledgerId, entryID: max(0, id.entryId))
    }
}
