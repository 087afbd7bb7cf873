import ArgumentParser
import Foundation
import MagnetarClient

/// `magnetar consume`: subscribes and prints messages, as `pulsar-client consume` does.
struct Consume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Consume messages from a topic and print them.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The topic (with --regex: a pattern over the local names of its namespace).") var topic: String
    @Option(name: [.short, .customLong("subscription-name")], help: "The subscription.") var subscription: String
    @Option(name: [.short, .customLong("subscription-type")], help: "Exclusive, Shared, Failover or Key_Shared.") var type: SubscriptionType = .exclusive
    @Option(name: [.short, .customLong("subscription-position")], help: "Where a new subscription starts: Earliest or Latest.")
    var position: InitialPosition = .latest
    @Option(name: [.customShort("n"), .customLong("num-messages")], help: "Messages to consume; 0 consumes until interrupted.") var count = 1
    @Option(name: [.short, .customLong("rate")], help: "Messages per second at most; 0: no limit.") var rate = 0.0
    @Option(name: [.short, .customLong("receiver-queue-size")], help: "The consumer's receiver queue.") var queueSize = 1000
    @Flag(help: "Do not print the payload.") var hideContent = false
    @Flag(help: "The topic is a regular expression over the topics of its namespace.") var regex = false
    @Flag(help: "Print one JSON object per message.") var json = false

    func validate() throws {
        guard !self.subscription.isEmpty else { throw ValidationError("--subscription-name cannot be empty") }
        guard self.count >= 0 else { throw ValidationError("--num-messages cannot be negative") }
        guard self.rate >= 0 else { throw ValidationError("--rate cannot be negative") }
        guard self.queueSize >= 1 else { throw ValidationError("--receiver-queue-size must be at least 1") }
    }

    func run() async throws {
        let client = try self.client.client()
        let configuration = ConsumerConfiguration(subscriptionType: self.type, initialPosition: self.position, receiverQueueSize: self.queueSize)
        do {
            let consumer: Consumer
            if self.regex {
                let name = try TopicName(self.topic.hasPrefix("persistent://") || self.topic.contains("/") ? self.topic : "public/default/\(self.topic)")
                consumer = try await client.subscribe(namespace: name.namespaceName, topicsMatching: name.local, subscription: self.subscription, configuration: configuration)
            } else {
                consumer = try await client.subscribe(topic: self.topic, subscription: self.subscription, configuration: configuration)
            }
            let start = ContinuousClock.now
            var received = 0
            for try await message in consumer.messages {
                self.print(message)
                consumer.acknowledge(message)
                received += 1
                if self.count > 0, received >= self.count { break }
                if self.rate > 0 {
                    let due = start + .nanoseconds(Int64(Double(received) / self.rate * 1e9))
                    if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                }
            }
            await consumer.close()
            if !self.json { Swift.print("\(received) messages successfully consumed") }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }

    private func print(_ message: Message) {
        if self.json {
            var object: [String: Any] = [
                "messageId": message.id.description, "topic": message.topic, "publishTime": message.publishTime,
                "properties": message.properties, "redeliveryCount": message.redeliveryCount,
            ]
            if let key = message.key { object["key"] = key }
            if !self.hideContent { object["payload"] = message.text }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        let properties = message.properties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        Swift.print("----- got message -----")
        Swift.print("key:[\(message.key ?? "null")], properties:[\(properties)], content:\(self.hideContent ? "<hidden>" : message.text)")
    }
}
