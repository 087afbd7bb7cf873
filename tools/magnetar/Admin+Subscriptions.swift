import ArgumentParser
import Foundation
import MagnetarHTTP
import MagnetarHTTPClient

/// A message position on the command line: `latest`, `earliest`, or `LEDGER:ENTRY`
/// (a trailing `:PARTITION`, as Pulsar prints ids, is ignored).
struct AdminMessageID: Equatable, Sendable, ExpressibleByArgument {
    var ledgerID: Int64
    var entryID: Int64

    /// Pulsar's latest position: both ids at their maximum.
    static let latest = AdminMessageID(ledgerID: .max, entryID: .max)
    /// Pulsar's earliest position: both ids -1.
    static let earliest = AdminMessageID(ledgerID: -1, entryID: -1)

    init(ledgerID: Int64, entryID: Int64) {
        self.ledgerID = ledgerID
        self.entryID = entryID
    }

    init?(argument: String) {
        switch argument {
        case "latest": self = .latest
        case "earliest": self = .earliest
        default:
            let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(parts.count), let ledger = Int64(parts[0]), let entry = Int64(parts[1]) else { return nil }
            self.init(ledgerID: ledger, entryID: entry)
        }
    }

    /// Pulsar's MessageIdImpl body.
    var json: AdminJSON { .object(["ledgerId": .int(self.ledgerID), "entryId": .int(self.entryID)]) }
}

extension Admin.Topics {
    /// `/admin/v2/persistent/…/{topic}/subscription/{sub}` followed by `suffix`.
    static func subscriptionPath(_ topic: String, _ subscription: String, _ suffix: String = "") throws(AdminError) -> String {
        try Self.path(topic, "/subscription/\(AdminRequest.segment(subscription))\(suffix)")
    }

    struct Subscriptions: AdminCommand {
        static let configuration = CommandConfiguration(abstract: "List a topic's subscriptions.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        func request() throws(AdminError) -> AdminRequest { .get(try Admin.Topics.path(self.topic, "/subscriptions")) }
    }

    struct CreateSubscription: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "create-subscription", abstract: "Create a subscription.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Option(name: [.customShort("m"), .customLong("messageId")], help: "Where it starts: latest, earliest or LEDGER:ENTRY.")
        var messageID: AdminMessageID = .latest
        func request() throws(AdminError) -> AdminRequest {
            .put(try Admin.Topics.subscriptionPath(self.topic, self.subscription), body: self.messageID.json)
        }
        var confirmation: String? { "created subscription \(self.subscription) on \(fullName(topic: self.topic))" }
    }

    struct Unsubscribe: AdminCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a subscription.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Flag(name: [.customShort("f"), .long], help: "Delete it even with consumers connected.") var force = false
        func request() throws(AdminError) -> AdminRequest {
            .delete(try Admin.Topics.subscriptionPath(self.topic, self.subscription), query: self.force ? ["force": "true"] : [:])
        }
        var confirmation: String? { "deleted subscription \(self.subscription) on \(fullName(topic: self.topic))" }
    }

    struct Skip: AdminCommand {
        static let configuration = CommandConfiguration(abstract: "Skip messages of a subscription's backlog.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Option(name: [.customShort("n"), .long], help: "How many messages.") var count: Int
        func request() throws(AdminError) -> AdminRequest {
            guard self.count > 0 else { throw AdminError(.invalidArgument, "--count must be above 0") }
            return .post(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/skip/\(self.count)"))
        }
        var confirmation: String? { "skipped \(self.count) messages of \(self.subscription)" }
    }

    struct ClearBacklog: AdminCommand {
        static let configuration = CommandConfiguration(commandName: "clear-backlog", abstract: "Skip a subscription's whole backlog.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/skip_all"))
        }
        var confirmation: String? { "cleared the backlog of \(self.subscription)" }
    }

    struct ResetCursor: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-cursor", abstract: "Move a subscription back to a time ago or to a message."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Option(name: [.customShort("t"), .long], help: "How long ago, e.g. 10m, 3h, 1d.") var time: RelativeTime?
        @Option(name: [.customShort("m"), .customLong("messageId")], help: "LEDGER:ENTRY, earliest or latest.") var messageID: AdminMessageID?

        func validate() throws {
            guard (self.time == nil) != (self.messageID == nil) else { throw ValidationError("give exactly one of --time and --messageId") }
        }

        /// The request at wall-clock time `now`: a time resets to `now` minus it, in
        /// milliseconds since 1970.
        func request(now: Date) throws(AdminError) -> AdminRequest {
            if let time = self.time {
                let timestamp = Int64((now.timeIntervalSince1970 * 1000).rounded()) - time.seconds * 1000
                return .post(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/resetcursor/\(timestamp)"))
            }
            return .post(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/resetcursor"), body: (self.messageID ?? .latest).json)
        }
        func request() throws(AdminError) -> AdminRequest { try self.request(now: Date()) }
        var confirmation: String? { "reset \(self.subscription) on \(fullName(topic: self.topic))" }
    }

    struct ExpireMessages: AdminCommand {
        static let configuration = CommandConfiguration(
            commandName: "expire-messages", abstract: "Acknowledge a subscription's messages older than a time."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Option(name: [.customShort("t"), .customLong("expireTime")], help: "Seconds, or e.g. 10m, 1h.") var expireTime: RelativeTime
        func request() throws(AdminError) -> AdminRequest {
            .post(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/expireMessages/\(self.expireTime.seconds)"))
        }
        var confirmation: String? { "expired messages of \(self.subscription) older than \(self.expireTime.seconds) s" }
    }

    struct PeekMessages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "peek-messages", abstract: "Show the next messages of a subscription without consuming them."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("s"), .long], help: "The subscription's name.") var subscription: String
        @Option(name: [.customShort("n"), .long], help: "How many messages.") var count = 1

        /// One request per message: positions 1 to count.
        func requests() throws(AdminError) -> [AdminRequest] {
            guard self.count > 0 else { throw AdminError(.invalidArgument, "--count must be above 0") }
            return try (1...self.count).map { position throws(AdminError) in
                .get(try Admin.Topics.subscriptionPath(self.topic, self.subscription, "/position/\(position)"))
            }
        }

        func run() async throws {
            try await Admin.perform(self.options) { session in
                var messages: [(headers: [(name: String, value: String)], body: [UInt8])] = []
                for request in try self.requests() {
                    do {
                        let response = try await session.send(request)
                        messages.append((response.headers, response.body))
                    } catch let error as AdminError where error.httpStatus == 404 && !messages.isEmpty {
                        break  // Fewer messages than asked for.
                    }
                }
                print(AdminOutput.messages(messages, format: session.format))
            }
        }
    }

    struct ExamineMessage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "examine-message", abstract: "Show the message at a position counted from the earliest or latest."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The topic.") var topic: String
        @Option(name: [.customShort("i"), .customLong("initialPosition")], help: "earliest or latest.") var initialPosition = "latest"
        @Option(name: [.customShort("m"), .customLong("messagePosition")], help: "The position from there, from 1.")
        var messagePosition = 1

        func request() throws(AdminError) -> AdminRequest {
            guard self.initialPosition == "earliest" || self.initialPosition == "latest" else {
                throw AdminError(.invalidArgument, "--initialPosition must be earliest or latest")
            }
            guard self.messagePosition > 0 else { throw AdminError(.invalidArgument, "--messagePosition must be above 0") }
            return .get(
                try Admin.Topics.path(self.topic, "/examinemessage"),
                query: ["initialPosition": self.initialPosition, "messagePosition": String(self.messagePosition)]
            )
        }

        func run() async throws {
            try await Admin.perform(self.options) { session in
                let response = try await session.send(try self.request())
                print(AdminOutput.messages([(response.headers, response.body)], format: session.format))
            }
        }
    }
}
