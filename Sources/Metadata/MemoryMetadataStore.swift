import Synchronization

/// A metadata store in this process's memory, for unit tests (`memory:`).
///
/// It keeps every guarantee of ``MetadataStore`` within one process, including session
/// expiry: a reaper checks sessions every `reapInterval` once the first session exists.
public final class MemoryMetadataStore: MetadataStore {
    private struct Entry {
        var value: [UInt8]
        var version: Int64
        var session: Int64?
    }

    private struct Watcher {
        var scope: WatchScope
        var continuation: AsyncThrowingStream<MetadataEvent, any Error>.Continuation
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var revision: Int64 = 0
        var sessions: [Int64: ContinuousClock.Instant] = [:]
        var nextSessionID: Int64 = 1
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
        var reaper: Task<Void, Never>?
        var closed = false

        /// Applies one change, notifies matching watchers, and returns its revision.
        mutating func apply(_ kind: MetadataEvent.Kind, key: String, entry: Entry?) -> Int64 {
            self.revision += 1
            self.entries[key] = kind == .put ? entry : nil
            let event = MetadataEvent(kind: kind, key: key, value: entry?.value ?? [], version: self.revision)
            for watcher in self.watchers.values where watcher.scope.matches(key) {
                watcher.continuation.yield(event)
            }
            return self.revision
        }

        mutating func endSession(_ id: Int64) {
            self.sessions[id] = nil
            let owned = self.entries.filter { $0.value.session == id }.keys.sorted()
            for key in owned {
                _ = self.apply(.delete, key: key, entry: nil)
            }
        }

        func checkOpen() throws(MetadataError) {
            if self.closed { throw MetadataError(.unavailable, "the store is closed") }
        }
    }

    private let state = Mutex(State())
    private let reapInterval: Duration

    public init(reapInterval: Duration = .milliseconds(50)) {
        self.reapInterval = reapInterval
    }

    public func get(_ key: String) async throws -> Versioned? {
        try MetadataKey.validate(key)
        return try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            return state.entries[key].map { Versioned(value: $0.value, version: $0.version, session: $0.session) }
        }
    }

    public func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64 {
        try MetadataKey.validate(key)
        let now = ContinuousClock.now
        return try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            try expecting.check(key, current: state.entries[key]?.version)
            if let session {
                guard let expiry = state.sessions[session.id], expiry > now else {
                    throw MetadataError.sessionExpired(session.id)
                }
            }
            let version = state.revision + 1
            return state.apply(.put, key: key, entry: Entry(value: value, version: version, session: session?.id))
        }
    }

    public func delete(_ key: String, expecting: Expectation) async throws {
        try MetadataKey.validate(key)
        try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            try expecting.checkDelete(key, current: state.entries[key]?.version)
            _ = state.apply(.delete, key: key, entry: nil)
        }
    }

    public func children(of path: String) async throws -> [String] {
        try MetadataKey.validatePath(path)
        let prefix = MetadataKey.childPrefix(path)
        return try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            return MetadataKey.childNames(below: path, keys: state.entries.keys.filter { $0.hasPrefix(prefix) })
        }
    }

    public func watch(_ scope: WatchScope) async throws -> MetadataWatch {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: MetadataEvent.self)
        let id = try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(scope: scope, continuation: continuation)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            // Not inline: termination can run while the task runtime holds a lock that a
            // yield under `state` also needs.
            Task { self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) } }
        }
        return MetadataWatch(stream)
    }

    public func createSession(ttl: Duration) async throws -> MetadataSession {
        try SessionRules.validate(ttl: ttl)
        let expiry = ContinuousClock.now + ttl
        return try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            let id = state.nextSessionID
            state.nextSessionID += 1
            state.sessions[id] = expiry
            if state.reaper == nil {
                state.reaper = self.startReaper()
            }
            return MetadataSession(id: id, ttl: ttl)
        }
    }

    public func keepAlive(_ session: MetadataSession) async throws {
        let now = ContinuousClock.now
        try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            guard let expiry = state.sessions[session.id], expiry > now else {
                throw MetadataError.sessionExpired(session.id)
            }
            state.sessions[session.id] = now + session.ttl
        }
    }

    public func closeSession(_ session: MetadataSession) async throws {
        try self.state.withLock { state throws(MetadataError) in
            try state.checkOpen()
            state.endSession(session.id)
        }
    }

    public func close() async {
        let (reaper, closing) = self.state.withLock { state in
            state.closed = true
            defer { state.watchers = [:] }
            return (state.reaper, state.watchers.values.map(\.continuation))
        }
        reaper?.cancel()
        // Finish outside the lock: finishing runs onTermination, which takes it again.
        for continuation in closing {
            continuation.finish(throwing: MetadataError(.unavailable, "the store was closed"))
        }
    }

    private func startReaper() -> Task<Void, Never> {
        Task { [weak self, reapInterval] in
            while !Task.isCancelled {
                try? await Task.sleep(for: reapInterval)
                guard let self else { return }
                self.expireSessions(now: .now)
            }
        }
    }

    private func expireSessions(now: ContinuousClock.Instant) {
        self.state.withLock { state in
            for (id, expiry) in state.sessions where expiry <= now {
                state.endSession(id)
            }
        }
    }
}

/// Limits shared by every backend's sessions.
enum SessionRules {
    /// Sessions shorter than this could not be kept alive reliably.
    static let minimumTTL = Duration.milliseconds(500)

    static func validate(ttl: Duration) throws(MetadataError) {
        guard ttl >= self.minimumTTL, ttl <= .seconds(86_400) else {
            throw MetadataError(.invalidArgument, "session TTL \(ttl) is outside 500 ms...1 day")
        }
    }
}
