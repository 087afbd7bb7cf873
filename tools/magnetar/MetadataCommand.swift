import ArgumentParser
import Foundation
import Logging
import Metadata

/// `magnetar metadata …`: read and write the metadata store directly.
struct MetadataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Read, write and watch keys in the metadata store.",
        subcommands: [Get.self, Put.self, Delete.self, List.self, Watch.self]
    )

    static func open(_ options: MetadataOptions) async throws -> any MetadataStore {
        var logger = Logger(label: "magnetar")
        logger.logLevel = .warning
        return try await MetadataStoreURL.open(options.url, logger: logger)
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a key's version and value.")
        @OptionGroup var metadata: MetadataOptions
        @Argument var key: String

        func run() async throws {
            let store = try await MetadataCommand.open(self.metadata)
            defer { Task { await store.close() } }
            guard let found = try await store.get(self.key) else {
                throw ValidationError("\(self.key) does not exist")
            }
            print("version \(found.version)\(found.session.map { " session \($0)" } ?? "")")
            print(String(decoding: found.value, as: UTF8.self))
            await store.close()
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a key. With --ephemeral, hold it in a session until interrupted."
        )
        @OptionGroup var metadata: MetadataOptions
        @Argument var key: String
        @Argument var value: String
        @Option(help: "Write only if the key is at this version.") var expectVersion: Int64?
        @Flag(help: "Write only if the key does not exist.") var expectAbsent = false
        @Flag(help: "Bind the key to a session kept alive until this command is stopped.") var ephemeral = false
        @Option(help: "Session TTL in milliseconds, with --ephemeral.") var ttlMs = 5_000

        func run() async throws {
            let expectation: Expectation =
                if let version = self.expectVersion { .version(version) } else if self.expectAbsent { .absent } else { .any }
            let store = try await MetadataCommand.open(self.metadata)
            guard self.ephemeral else {
                let version = try await store.put(self.key, value: Array(self.value.utf8), expecting: expectation)
                print("version \(version)")
                await store.close()
                return
            }
            let session = try await store.createSession(ttl: .milliseconds(self.ttlMs))
            let version = try await store.put(self.key, value: Array(self.value.utf8), expecting: expectation, session: session)
            printNow("version \(version) session \(session.id): holding \(self.key) until interrupted")
            let keeper = Task { try await store.keepSessionAlive(session) }
            await SignalWaiter.waitForTermination()
            keeper.cancel()
            try? await store.closeSession(session)
            await store.close()
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a key.")
        @OptionGroup var metadata: MetadataOptions
        @Argument var key: String
        @Option(help: "Delete only if the key is at this version.") var expectVersion: Int64?

        func run() async throws {
            let store = try await MetadataCommand.open(self.metadata)
            try await store.delete(self.key, expecting: self.expectVersion.map { .version($0) } ?? .any)
            await store.close()
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the children of a path.")
        @OptionGroup var metadata: MetadataOptions
        @Argument var path = "/"

        func run() async throws {
            let store = try await MetadataCommand.open(self.metadata)
            for child in try await store.children(of: self.path) { print(child) }
            await store.close()
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print changes to a key, or with --prefix to a subtree.")
        @OptionGroup var metadata: MetadataOptions
        @Argument var key: String
        @Flag(help: "Watch every key starting with the argument.") var prefix = false

        func run() async throws {
            let store = try await MetadataCommand.open(self.metadata)
            let watch = try await store.watch(self.prefix ? .prefix(self.key) : .key(self.key))
            printNow("watching \(self.key)")
            let printer = Task {
                for try await event in watch {
                    printNow("\(event.kind) \(event.key) version \(event.version) \(String(decoding: event.value, as: UTF8.self))")
                }
            }
            await SignalWaiter.waitForTermination()
            printer.cancel()
            await store.close()
        }
    }
}

/// Writes a line to standard output at once, for output other programs wait on.
func printNow(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Waits for SIGINT or SIGTERM.
enum SignalWaiter {
    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
                source.setEventHandler { resumed.resume() }
                source.resume()
                Self.sources.append(source)
            }
        }
    }

    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    private final class ResumeOnce: @unchecked Sendable {
        private var continuation: CheckedContinuation<Void, Never>?
        private let lock = NSLock()
        init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
        func resume() {
            self.lock.lock()
            let continuation = self.continuation
            self.continuation = nil
            self.lock.unlock()
            continuation?.resume()
        }
    }
}
