import Foundation
public import Logging
import Synchronization

/// The embedded metadata store (`sqlite:<path>`): one SQLite file shared by every process
/// on a host, as `magnetar standalone` runs it.
///
/// The file is in WAL mode with `synchronous=FULL`, so a write is on disk when it returns,
/// and writers in other processes wait on a busy timeout rather than fail. Every change
/// bumps a global revision and appends to an `events` table; each process polls that
/// table to feed its watches, so a watch sees other processes' writes within about one
/// poll interval. Sessions are rows with an expiry time; every open store reaps expired
/// sessions and their ephemeral keys, so a process killed with SIGKILL loses its keys
/// within the TTL (plus one poll interval) while any other process has the file open.
///
/// All SQLite calls, and the polling, run on one thread the store owns, never on the
/// caller's or on Swift's cooperative pool.
public final class SQLiteMetadataStore: MetadataStore {
    /// How the store opens and polls its file.
    public struct Configuration: Sendable {
        /// The database file. Created with its schema when absent.
        public var path: String
        /// How often the file is polled for changes and expired sessions. Default 20 ms.
        public var pollInterval: Duration
        /// How long a write waits for another process's write lock. Default 5 s.
        public var busyTimeout: Duration
        /// How long change events are kept for watches that fall behind. Default 5 min.
        public var eventRetention: Duration

        public init(
            path: String,
            pollInterval: Duration = .milliseconds(20),
            busyTimeout: Duration = .seconds(5),
            eventRetention: Duration = .seconds(300)
        ) {
            self.path = path
            self.pollInterval = pollInterval
            self.busyTimeout = busyTimeout
            self.eventRetention = eventRetention
        }
    }

    private struct Watcher {
        var scope: WatchScope
        var after: Int64
        var continuation: AsyncThrowingStream<MetadataEvent, any Error>.Continuation
    }

    private struct Watchers {
        var table: [Int: Watcher] = [:]
        var nextID = 0
    }

    /// The connection, touched only on `thread`.
    private final class Confined {
        let database: SQLiteDatabase
        var lastPrune: Int64 = 0
        init(_ database: SQLiteDatabase) { self.database = database }
    }

    private let configuration: Configuration
    private let thread = Mutex<DatabaseThread<Confined>?>(nil)
    private let watchers = Mutex(Watchers())
    private let logger: Logger

    private init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Opens the store at `configuration.path`, creating the file and schema if needed,
    /// and starts polling it on the store's own thread.
    public static func open(_ configuration: Configuration, logger: Logger) async throws -> SQLiteMetadataStore {
        let database = try await Self.onNewThread { () throws(MetadataError) in
            let database = try SQLiteDatabase(path: configuration.path, busyTimeout: configuration.busyTimeout)
            try Self.prepareSchema(database)
            return UncheckedBox(database)
        }
        let store = SQLiteMetadataStore(configuration: configuration, logger: logger)
        let confined = Confined(database.value)
        let thread = DatabaseThread(name: "metadata-sqlite", resource: confined, interval: configuration.pollInterval) {
            [weak store] confined in
            do {
                try store?.poll(confined)
            } catch {
                store?.logger.warning("metadata poll failed", metadata: ["error": "\(error)"])
            }
        }
        store.thread.withLock { $0 = thread }
        return store
    }

    /// Runs blocking `body` on a fresh thread (opening a file can wait on locks).
    private static func onNewThread<T: Sendable>(_ body: @escaping @Sendable () throws(MetadataError) -> T) async throws(MetadataError) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, MetadataError>, Never>) in
            Thread { continuation.resume(returning: Result { () throws(MetadataError) in try body() }) }.start()
        }
        return try result.get()
    }

    /// Switches to WAL and creates the tables. Two processes opening a new file at once
    /// can find it locked without SQLite's busy handler being consulted (the switch to WAL
    /// takes an exclusive lock), so a locked database is retried for a while.
    private static func prepareSchema(_ database: SQLiteDatabase) throws(MetadataError) {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try self.prepareSchemaOnce(database)
            } catch where error.locked && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    private static func prepareSchemaOnce(_ database: SQLiteDatabase) throws(MetadataError) {
        try database.execute("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=FULL")
        try database.writeTransaction { () throws(MetadataError) in
            try database.execute(
                """
                CREATE TABLE IF NOT EXISTS kv(
                    key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL, session INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS kv_by_session ON kv(session) WHERE session IS NOT NULL;
                CREATE TABLE IF NOT EXISTS sessions(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, ttl_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL
                );
                CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions(expires_ms);
                CREATE TABLE IF NOT EXISTS events(
                    revision INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key TEXT NOT NULL,
                    value BLOB NOT NULL, at_ms INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS store(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO store(name, value) VALUES('revision', 0);
                """
            )
            try Self.endSessionsOfEarlierBoots(database)
        }
    }

    // MARK: MetadataStore

    public func get(_ key: String) async throws -> Versioned? {
        try MetadataKey.validate(key)
        return try await self.run { database throws(MetadataError) in
            let rows = try database.query("SELECT value, version, session FROM kv WHERE key = ?", .text(key))
            return rows.first.map { Versioned(value: $0[0].bytes, version: $0[1].integer ?? 0, session: $0[2].integer) }
        }
    }

    public func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64 {
        try MetadataKey.validate(key)
        return try await self.run { database throws(MetadataError) in
            try database.writeTransaction { () throws(MetadataError) in
                try expecting.check(key, current: try Self.version(of: key, in: database))
                if let session {
                    let live = try database.query(
                        "SELECT 1 FROM sessions WHERE id = ? AND expires_ms > ?", .integer(session.id), .integer(Self.sessionMilliseconds())
                    )
                    guard !live.isEmpty else { throw MetadataError.sessionExpired(session.id) }
                }
                let revision = try Self.record(.put, key: key, value: value, in: database)
                try database.query(
                    "INSERT OR REPLACE INTO kv(key, value, version, session) VALUES(?, ?, ?, ?)",
                    .text(key), .blob(value), .integer(revision), session.map { .integer($0.id) } ?? .null
                )
                return revision
            }
        }
    }

    public func delete(_ key: String, expecting: Expectation) async throws {
        try MetadataKey.validate(key)
        try await self.run { database throws(MetadataError) in
            try database.writeTransaction { () throws(MetadataError) in
                try expecting.checkDelete(key, current: try Self.version(of: key, in: database))
                try Self.remove(key, in: database)
            }
        }
    }

    public func children(of path: String) async throws -> [String] {
        try MetadataKey.validatePath(path)
        let prefix = MetadataKey.childPrefix(path)
        let end = String(decoding: MetadataKey.rangeEnd(forPrefix: prefix), as: UTF8.self)
        return try await self.run { database throws(MetadataError) in
            let rows = try database.query("SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key", .text(prefix), .text(end))
            return MetadataKey.childNames(below: path, keys: rows.compactMap { $0[0].text })
        }
    }

    public func watch(_ scope: WatchScope) async throws -> MetadataWatch {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: MetadataEvent.self)
        // Registering on the database thread orders the starting revision with the poller.
        let id = try await self.run { database throws(MetadataError) in
            let revision = try Self.currentRevision(database)
            return self.watchers.withLock { watchers in
                let id = watchers.nextID
                watchers.nextID += 1
                watchers.table[id] = Watcher(scope: scope, after: revision, continuation: continuation)
                return id
            }
        }
        continuation.onTermination = { [weak self] _ in
            // Not inline: termination can run while the task runtime holds a lock that a
            // yield under `watchers` also needs.
            Task { self?.watchers.withLock { _ = $0.table.removeValue(forKey: id) } }
        }
        return MetadataWatch(stream)
    }

    public func createSession(ttl: Duration) async throws -> MetadataSession {
        try SessionRules.validate(ttl: ttl)
        let milliseconds = Self.milliseconds(ttl)
        return try await self.run { database throws(MetadataError) in
            try database.query(
                "INSERT INTO sessions(ttl_ms, expires_ms) VALUES(?, ?)",
                .integer(milliseconds), .integer(Self.sessionMilliseconds() + milliseconds)
            )
            return MetadataSession(id: database.lastInsertRowID, ttl: ttl)
        }
    }

    public func keepAlive(_ session: MetadataSession) async throws {
        try await self.run { database throws(MetadataError) in
            let now = Self.sessionMilliseconds()
            try database.query(
                "UPDATE sessions SET expires_ms = ? + ttl_ms WHERE id = ? AND expires_ms > ?",
                .integer(now), .integer(session.id), .integer(now)
            )
            guard database.changes == 1 else { throw MetadataError.sessionExpired(session.id) }
        }
    }

    public func closeSession(_ session: MetadataSession) async throws {
        try await self.run { database throws(MetadataError) in
            try database.writeTransaction { () throws(MetadataError) in try Self.endSession(session.id, in: database) }
        }
    }

    public func close() async {
        let thread = self.thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        thread?.stop()
        // Finish outside the lock: finishing runs onTermination, which takes it again.
        let closing = self.watchers.withLock { watchers in
            defer { watchers.table = [:] }
            return watchers.table.values.map(\.continuation)
        }
        for continuation in closing {
            continuation.finish(throwing: MetadataError(.unavailable, "the store was closed"))
        }
    }

    // MARK: Database thread

    private func run<T: Sendable>(_ body: @escaping (SQLiteDatabase) throws(MetadataError) -> T) async throws -> T {
        guard let thread = self.thread.withLock({ $0 }) else {
            throw MetadataError(.unavailable, "the store is closed")
        }
        return try await thread.submit { confined throws(MetadataError) in try body(confined.database) }
    }

    private static func version(of key: String, in database: SQLiteDatabase) throws(MetadataError) -> Int64? {
        try database.query("SELECT version FROM kv WHERE key = ?", .text(key)).first?[0].integer
    }

    private static func currentRevision(_ database: SQLiteDatabase) throws(MetadataError) -> Int64 {
        try database.query("SELECT value FROM store WHERE name = 'revision'").first?[0].integer ?? 0
    }

    /// Bumps the revision and logs the change for watches; call inside a write transaction.
    private static func record(_ kind: MetadataEvent.Kind, key: String, value: [UInt8], in database: SQLiteDatabase) throws(MetadataError) -> Int64 {
        let revision = try self.currentRevision(database) + 1
        try database.query("UPDATE store SET value = ? WHERE name = 'revision'", .integer(revision))
        try database.query(
            "INSERT INTO events(revision, kind, key, value, at_ms) VALUES(?, ?, ?, ?, ?)",
            .integer(revision), .integer(kind == .put ? 0 : 1), .text(key), .blob(value), .integer(self.nowMilliseconds())
        )
        return revision
    }

    private static func remove(_ key: String, in database: SQLiteDatabase) throws(MetadataError) {
        _ = try self.record(.delete, key: key, value: [], in: database)
        try database.query("DELETE FROM kv WHERE key = ?", .text(key))
    }

    private static func endSession(_ id: Int64, in database: SQLiteDatabase) throws(MetadataError) {
        let owned = try database.query("SELECT key FROM kv WHERE session = ? ORDER BY key", .integer(id))
        for row in owned {
            if let key = row[0].text { try self.remove(key, in: database) }
        }
        try database.query("DELETE FROM sessions WHERE id = ?", .integer(id))
    }

    // MARK: Polling

    /// One poll: reap expired sessions, feed watches, and now and then prune old events.
    private func poll(_ confined: Confined) throws(MetadataError) {
        let database = confined.database
        let now = Self.sessionMilliseconds()
        let expired = try database.query("SELECT id FROM sessions WHERE expires_ms <= ? LIMIT 1", .integer(now))
        if !expired.isEmpty {
            try database.writeTransaction { () throws(MetadataError) in
                let ids = try database.query("SELECT id FROM sessions WHERE expires_ms <= ?", .integer(now))
                for row in ids {
                    if let id = row[0].integer { try Self.endSession(id, in: database) }
                }
            }
        }
        try self.deliverEvents(database)
        let wallClock = Self.nowMilliseconds()
        if wallClock - confined.lastPrune > 10_000 {
            confined.lastPrune = wallClock
            let horizon = wallClock - Self.milliseconds(self.configuration.eventRetention)
            try database.query("DELETE FROM events WHERE at_ms < ?", .integer(horizon))
        }
    }

    private func deliverEvents(_ database: SQLiteDatabase) throws(MetadataError) {
        while let oldest = self.watchers.withLock({ $0.table.values.map(\.after).min() }) {
            let rows = try database.query(
                "SELECT revision, kind, key, value FROM events WHERE revision > ? ORDER BY revision LIMIT 1000",
                .integer(oldest)
            )
            guard let first = rows.first?[0].integer else { return }
            let events = rows.map { row in
                MetadataEvent(
                    kind: row[1].integer == 0 ? .put : .delete,
                    key: row[2].text ?? "",
                    value: row[3].bytes,
                    version: row[0].integer ?? 0
                )
            }
            let behind = self.watchers.withLock { watchers in
                var behind: [AsyncThrowingStream<MetadataEvent, any Error>.Continuation] = []
                for (id, watcher) in watchers.table {
                    if watcher.after < first - 1 {
                        // Events this watch needs were pruned: it cannot promise completeness.
                        behind.append(watcher.continuation)
                        watchers.table[id] = nil
                        continue
                    }
                    for event in events where event.version > watcher.after && watcher.scope.matches(event.key) {
                        watcher.continuation.yield(event)
                    }
                    watchers.table[id]?.after = max(watcher.after, events.last!.version)
                }
                return behind
            }
            for continuation in behind {
                continuation.finish(throwing: MetadataError(.notFound, "watch fell behind the retained change history"))
            }
            if rows.count < 1000 { return }
        }
    }

    /// The clock session expiry counts on: milliseconds since this host booted
    /// (`CLOCK_BOOTTIME`), the same for every process on the host, so that a step of the
    /// wall clock does not end (or prolong) every session at once. It starts again at a
    /// reboot, which ``endSessionsOfEarlierBoots(_:)`` accounts for.
    private static func sessionMilliseconds() -> Int64 {
        // On Linux the continuous clock is `CLOCK_BOOTTIME`, its epoch the boot.
        Self.milliseconds(ContinuousClock.now - ContinuousClock().systemEpoch)
    }

    /// This boot's identity, from the kernel's random boot id.
    private static func bootIdentity() -> Int64 {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)) ?? ""
        let hex = text.filter(\.isHexDigit).prefix(16)
        return Int64(bitPattern: UInt64(hex, radix: 16) ?? 0)
    }

    /// Session expiry times count from the boot recorded in the file: sessions of an earlier
    /// boot (or of a version that counted on the wall clock) are over, so they end here,
    /// with their ephemeral keys, and this boot is recorded.
    private static func endSessionsOfEarlierBoots(_ database: SQLiteDatabase) throws(MetadataError) {
        let boot = Self.bootIdentity()
        let recorded = try database.query("SELECT value FROM store WHERE name = 'session-boot'")
        guard recorded.first?[0].integer != boot else { return }
        for row in try database.query("SELECT id FROM sessions") {
            if let id = row[0].integer { try Self.endSession(id, in: database) }
        }
        try database.query("INSERT OR REPLACE INTO store(name, value) VALUES('session-boot', ?)", .integer(boot))
    }

    private static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Carries a value that is not `Sendable` from the thread that made it to its one owner.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
