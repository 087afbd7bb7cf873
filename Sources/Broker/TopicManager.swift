import Codec
import Ledger
import Logging
import ManagedLedger
import Metadata
import PulsarWire
import ServiceLifecycle
import Synchronization

/// The topics this broker has loaded, and their lifecycle: a topic is loaded on first
/// use (which fences a previous owner's ledger), forgotten once it closes (after a
/// storage failure, an unload, idleness), and every topic is closed cleanly when the
/// broker stops.
///
/// As a `Service` it unloads topics idle for longer than ``idleTimeout`` and, on graceful
/// shutdown, closes every topic's ledger so the next owner needs no recovery.
final class TopicManager: Service, Sendable {
    /// Opens the managed ledger of a topic and builds the topic.
    typealias Loader = @Sendable (_ name: TopicName, _ onClosed: @escaping @Sendable (Topic) -> Void) async throws -> Topic

    private let loader: Loader
    /// How long a topic with no producer or consumer stays loaded; nil keeps it.
    let idleTimeout: Duration?
    private let logger: Logger
    /// Each load with a number of its own, so that a closed topic forgets only itself.
    private let topics = Mutex(Table())

    private struct Table {
        var loads: [TopicName: (number: Int, task: Task<Topic, any Error>)] = [:]
        var counter = 0
        /// Set by ``closeAll()``: the broker is stopping and loads nothing more.
        var stopped = false
        /// Topics being deleted: not loaded until the deletion ends.
        var blocked: Set<TopicName> = []
    }

    init(idleTimeout: Duration?, logger: Logger, loader: @escaping Loader) {
        self.loader = loader
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    /// The topic, loaded on first use. A closed topic still in the table (its ledger
    /// closing) is waited for and loaded anew.
    func topic(_ name: TopicName) async throws -> Topic {
        while true {
            let task = try self.loading(name)
            let topic: Topic
            do {
                topic = try await task.value
            } catch {
                self.forget(name, task)
                if (error as? BrokerError)?.code != .serviceNotReady {
                    self.logger.warning("a topic failed to load", metadata: ["topic": "\(name)", "error": "\(error)"])
                }
                throw BrokerError(error, "cannot load \(name)")
            }
            guard topic.isClosed else { return topic }
            await topic.waitUntilClosed()
            self.forget(name, task)
        }
    }

    /// Whether `name` is loaded, or loading, here.
    func isLoaded(_ name: TopicName) -> Bool {
        self.topics.withLock { $0.loads[name] != nil }
    }

    /// The task loading (or that loaded) a topic, started when there is none.
    private func loading(_ name: TopicName) throws(BrokerError) -> Task<Topic, any Error> {
        try self.topics.withLock { topics throws(BrokerError) in
            guard !topics.stopped else { throw BrokerError(.serviceNotReady, "the broker is stopping; look \(name) up again") }
            guard !topics.blocked.contains(name) else { throw BrokerError(.serviceNotReady, "\(name) is being deleted") }
            if let loading = topics.loads[name] { return loading.task }
            topics.counter += 1
            let number = topics.counter
            let loader = self.loader
            // Shared by every client asking for the topic while it loads.
            let loading = Task {
                try await loader(name) { [weak self] _ in self?.forget(name, number) }
            }
            topics.loads[name] = (number, loading)
            return loading
        }
    }

    private func forget(_ name: TopicName, _ task: Task<Topic, any Error>) {
        self.topics.withLock { topics in if topics.loads[name]?.task == task { topics.loads[name] = nil } }
    }

    /// Forgets the load numbered `number` of a topic that closed, unless a newer load
    /// took its place.
    private func forget(_ name: TopicName, _ number: Int) {
        self.topics.withLock { topics in if topics.loads[name]?.number == number { topics.loads[name] = nil } }
    }

    /// The topics loaded and open now.
    func loaded() async -> [Topic] {
        let tasks = self.topics.withLock { $0.loads.values.map(\.task) }
        var topics: [Topic] = []
        for task in tasks {
            if let topic = try? await task.value, !topic.isClosed { topics.append(topic) }
        }
        return topics
    }

    /// Unloads a topic: its clients are told to reconnect and its ledger is closed
    /// cleanly. False when it was not loaded.
    @discardableResult
    func unload(_ name: TopicName) async -> Bool {
        guard let task = self.topics.withLock({ $0.loads[name]?.task }), let topic = try? await task.value, !topic.isClosed else { return false }
        await topic.closeAndWait(.unloaded)
        self.forget(name, task)
        return true
    }

    /// Runs `body` with the topic closed (``Topic/CloseReason/unloaded``) and kept from
    /// loading until `body` returns: clients asking meanwhile are told to retry. `check`
    /// sees the loaded topic first, if there is one, and may refuse by throwing.
    func withTopicClosed<T: Sendable>(
        _ name: TopicName, check: (Topic) async throws -> Void = { _ in }, _ body: () async throws -> T
    ) async throws -> T {
        if let task = self.topics.withLock({ $0.loads[name]?.task }), let topic = try? await task.value, !topic.isClosed {
            try await check(topic)
        }
        let inserted = self.topics.withLock { $0.blocked.insert(name).inserted }
        guard inserted else { throw BrokerError(.serviceNotReady, "\(name) is being deleted") }
        defer { self.topics.withLock { _ = $0.blocked.remove(name) } }
        if let task = self.topics.withLock({ $0.loads[name]?.task }) {
            if let topic = try? await task.value { await topic.closeAndWait(.unloaded) }
            self.forget(name, task)
        }
        return try await body()
    }

    /// Closes every loaded topic's ledger cleanly (the broker is stopping).
    func closeAll() async {
        let loaded = self.topics.withLock { topics in
            topics.stopped = true
            defer { topics.loads.removeAll() }
            return topics.loads.values.map(\.task)
        }
        await withDiscardingTaskGroup { group in
            for task in loaded {
                group.addTask {
                    if let topic = try? await task.value { await topic.closeAndWait(.shutdown) }
                }
            }
        }
    }

    /// Unloads the topics idle for longer than ``idleTimeout`` at `now`; returns how many.
    @discardableResult
    func unloadIdle(now: ContinuousClock.Instant = .now) async -> Int {
        guard let timeout = self.idleTimeout else { return 0 }
        var unloaded = 0
        for topic in await self.loaded() where await topic.isIdle(at: now, timeout: timeout) {
            await topic.closeAndWait(.idle)
            unloaded += 1
        }
        return unloaded
    }

    /// Unloads idle topics now and then until the broker stops; then closes every topic.
    func run() async throws {
        if let timeout = self.idleTimeout {
            let period = min(max(timeout / 4, .milliseconds(100)), .seconds(30))
            try? await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: period)
                    await self.unloadIdle()
                }
            }
        } else {
            try? await gracefulShutdown()
        }
        self.logger.info("closing every topic")
        await self.closeAll()
    }
}
