/// The cluster's coordination store: versioned keys, compare-and-set, watches, and
/// sessions that own ephemeral keys.
///
/// Keys are absolute paths (`/ledgers/17`); values are bytes (JSON by convention, so that
/// `etcdctl get` stays readable). Three backends implement it: ``MemoryMetadataStore`` for
/// unit tests, ``SQLiteMetadataStore`` for processes on one host, and
/// ``EtcdMetadataStore`` for a cluster. Every backend passes the same conformance suite.
///
/// Guarantees every backend keeps:
/// - each successful write returns a version larger than any version returned before;
/// - a write or delete with an ``Expectation`` is applied atomically or not at all;
/// - a watch sees every change to its scope after the watch was created, in order;
/// - an ephemeral key lives no longer than its session, and a session lives no longer
///   than `ttl` past its last keep-alive.
public protocol MetadataStore: AnyObject, Sendable {
    /// The value and version of `key`, or `nil` when it does not exist.
    func get(_ key: String) async throws -> Versioned?

    /// Writes `value` at `key` if the key's state meets `expectation`, and returns the new
    /// version. With a `session`, the key is ephemeral: it is deleted when the session ends.
    @discardableResult
    func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64

    /// Deletes `key` if its state meets `expectation` (`.absent` is not a valid expectation
    /// here). Throws `notFound` when the key does not exist.
    func delete(_ key: String, expecting: Expectation) async throws

    /// The names (last path component) of the keys directly below `path`, in byte order.
    /// A name appears when any key lies below it, whether or not `path/name` itself exists.
    func children(of path: String) async throws -> [String]

    /// Starts watching `scope`. Once this returns, every later change is delivered.
    func watch(_ scope: WatchScope) async throws -> MetadataWatch

    /// Creates a session that expires `ttl` after its last keep-alive.
    func createSession(ttl: Duration) async throws -> MetadataSession

    /// Extends the session's life by its TTL; throws `sessionExpired` when it has ended.
    func keepAlive(_ session: MetadataSession) async throws

    /// Ends the session now, deleting its ephemeral keys.
    func closeSession(_ session: MetadataSession) async throws

    /// Releases connections and background work. The store is unusable afterwards.
    func close() async
}

extension MetadataStore {
    /// Writes `value` at `key` unconditionally (or under `expecting`), with no session.
    @discardableResult
    public func put(_ key: String, value: [UInt8], expecting: Expectation = .any) async throws -> Int64 {
        try await self.put(key, value: value, expecting: expecting, session: nil)
    }

    /// Writes `value` at `key` whatever its state, as an ephemeral key of `session`.
    @discardableResult
    public func put(_ key: String, value: [UInt8], session: MetadataSession) async throws -> Int64 {
        try await self.put(key, value: value, expecting: .any, session: session)
    }

    /// Deletes `key` whatever its version.
    public func delete(_ key: String) async throws {
        try await self.delete(key, expecting: .any)
    }

    /// Allocates the next id of the counter `name`, stored at `/counters/<name>`.
    ///
    /// Ids are unique and increasing across every process sharing the store; the first is 1.
    /// The value is a plain decimal number, so `etcdctl get /counters/ledger-id` shows it.
    public func nextID(_ name: String) async throws -> Int64 {
        let key = ClusterLayout.counter(name)
        while true {
            try Task.checkCancellation()
            let current = try await self.get(key)
            let last = try current.map { try Self.decodeCounter($0.value, key: key) } ?? 0
            let next = last + 1
            do {
                try await self.put(
                    key,
                    value: Array(String(next).utf8),
                    expecting: current.map { .version($0.version) } ?? .absent
                )
                return next
            } catch let error as MetadataError where error.code == .badVersion || error.code == .alreadyExists {
                continue  // Another allocator won the race; read again.
            }
        }
    }

    /// The last id allocated from the counter `name` (0 when none was).
    public func currentID(_ name: String) async throws -> Int64 {
        let key = ClusterLayout.counter(name)
        return try await self.get(key).map { try Self.decodeCounter($0.value, key: key) } ?? 0
    }

    private static func decodeCounter(_ bytes: [UInt8], key: String) throws -> Int64 {
        guard let value = Int64(String(decoding: bytes, as: UTF8.self)), value >= 0 else {
            throw MetadataError(.invalidArgument, "\(key) does not hold a counter value")
        }
        return value
    }

    /// Keeps `session` alive until the calling task is cancelled, refreshing it three times
    /// per TTL. Returns normally on cancellation; throws `sessionExpired` if the session is
    /// lost (for example after the store was unreachable for longer than the TTL).
    public func keepSessionAlive(_ session: MetadataSession) async throws {
        let interval = session.ttl / 3
        var lastSuccess = ContinuousClock.now
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            do {
                try await self.keepAlive(session)
                lastSuccess = .now
            } catch let error as MetadataError where error.code == .unavailable {
                // Transient: retry at the next tick while the session may still be alive.
                if ContinuousClock.now - lastSuccess > session.ttl {
                    throw MetadataError.sessionExpired(session.id)
                }
            }
        }
    }
}
