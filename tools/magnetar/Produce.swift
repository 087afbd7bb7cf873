import ArgumentParser
import Foundation
import MagnetarClient
import NIOCore

/// `magnetar produce`: publishes messages given on the command line or in files, as
/// `pulsar-client produce` does.
struct Produce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publish messages to a topic.",
        discussion: "Each -m value (split at the separator) and each -f file is one message; the set is sent -n times."
    )

    @OptionGroup var client: ClientOptions
    @Argument(help: "The topic, e.g. my-topic or persistent://public/default/my-topic.") var topic: String
    @Option(name: [.short, .customLong("messages")], help: "Messages to send, split at --separator.") var messages: [String] = []
    @Option(name: [.short, .customLong("files")], help: "Files whose contents are sent, one message each.") var files: [String] = []
    @Option(name: [.customShort("n"), .customLong("num-produce")], help: "How many times the messages are sent.") var count = 1
    @Option(name: [.short, .customLong("rate")], help: "Messages per second; 0 sends as fast as possible.") var rate = 0.0
    @Option(name: [.short, .customLong("key")], help: "The messages' key.") var key: String?
    @Option(name: [.short, .customLong("properties")], help: "A property, key=value (repeatable).") var properties: [String] = []
    @Option(name: [.customLong("separator")], help: "What separates messages in one -m value.") var separator = ","
    @Option(name: [.customShort("z"), .customLong("compression")], help: "none, lz4 or zstd.") var compression: MessageCompression = .none
    @Flag(help: "Send each message on its own (no batching).") var disableBatching = false
    @Flag(help: "Print a JSON line per message (its id) instead of the summary.") var json = false

    func validate() throws {
        guard !self.messages.isEmpty || !self.files.isEmpty else { throw ValidationError("give messages with -m or files with -f") }
        guard self.count >= 1 else { throw ValidationError("--num-produce must be at least 1") }
        guard self.rate >= 0 else { throw ValidationError("--rate cannot be negative") }
        guard !self.separator.isEmpty else { throw ValidationError("--separator cannot be empty") }
    }

    func run() async throws {
        let properties = try parseProperties(self.properties)
        var bodies: [ByteBuffer] = self.messages.flatMap { $0.components(separatedBy: self.separator) }.map { ByteBuffer(string: $0) }
        for file in self.files {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read the file '\(file)'") }
            bodies.append(ByteBuffer(bytes: data))
        }
        let client = try self.client.client()
        do {
            let producer = try await client.createProducer(
                topic: self.topic,
                configuration: ProducerConfiguration(batching: self.disableBatching ? .disabled : BatchPolicy(), compression: self.compression)
            )
            let start = ContinuousClock.now
            var sent = 0
            for _ in 0..<self.count {
                for body in bodies {
                    if self.rate > 0 {
                        let due = start + .nanoseconds(Int64(Double(sent) / self.rate * 1e9))
                        if due > .now { try await Task.sleep(until: due, clock: .continuous) }
                    }
                    let id = try await producer.send(OutgoingMessage(payload: body, key: self.key, properties: properties))
                    sent += 1
                    if self.json { print(#"{"messageId":"\#(id)","size":\#(body.readableBytes)}"#) }
                }
            }
            await producer.close()
            if !self.json { print("\(sent) messages successfully produced") }
        } catch {
            await client.close()
            throw error
        }
        await client.close()
    }
}
