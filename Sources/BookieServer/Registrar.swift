import Foundation
import Logging
import Metadata
import ServiceLifecycle
import Synchronization

/// The bookie's ephemeral key `/bookies/available/<id>`, kept for as long as the bookie
/// runs: when its session ends (the bookie was paused, or cut off from the metadata store
/// for longer than the TTL) it opens a new session and registers again, so that brokers
/// find it once more.
///
/// As a service it keeps the registration until graceful shutdown or cancellation, then
/// ends the session, so that brokers stop choosing this bookie before it stops serving.
final class Registrar: Service, Sendable {
    /// The value of `/bookies/available/<id>`.
    struct Value: Codable {
        var address: String
        var httpPort: Int?
        var rack: String?
        var state: String
    }

    private let metadata: any MetadataStore
    private let key: String
    private let ttl: Duration
    private let value: @Sendable (_ readOnly: Bool) -> Value
    private let logger: Logger
    /// The state to register again with after a session ended.
    private let isReadOnly: @Sendable () -> Bool
    /// The session the key lives in now; replaced when one ends.
    private let session: Mutex<MetadataSession>

    /// Opens a session and registers with the state `isReadOnly` gives.
    init(
        metadata: any MetadataStore,
        key: String,
        ttl: Duration,
        logger: Logger,
        isReadOnly: @escaping @Sendable () -> Bool,
        value: @escaping @Sendable (_ readOnly: Bool) -> Value
    ) async throws {
        self.isReadOnly = isReadOnly
        self.metadata = metadata
        self.key = key
        self.ttl = ttl
        self.value = value
        self.logger = logger
        let session = try await metadata.createSession(ttl: ttl)
        self.session = Mutex(session)
        try await self.register(readOnly: isReadOnly())
    }

    /// Writes the key with the state given, in the current session.
    func register(readOnly: Bool) async throws {
        let session = self.session.withLock { $0 }
        try await self.metadata.put(self.key, value: Array(try JSONEncoder().encode(self.value(readOnly))), session: session)
    }

    /// Keeps the session alive until the task is cancelled; when it ends, opens a new one
    /// and registers again (asking `readOnly` for the state), retrying with backoff while
    /// the metadata store cannot be reached.
    func maintain(readOnly: @escaping @Sendable () -> Bool) async {
        while !Task.isCancelled {
            let session = self.session.withLock { $0 }
            do {
                try await self.metadata.keepSessionAlive(session)
                return  // Cancelled.
            } catch {
                if Task.isCancelled { return }
                self.logger.warning("the metadata session ended; registering again", metadata: ["error": "\(error)"])
            }
            var delay = Duration.milliseconds(100)
            while !Task.isCancelled {
                do {
                    let renewed = try await self.metadata.createSession(ttl: self.ttl)
                    self.session.withLock { $0 = renewed }
                    try await self.register(readOnly: readOnly())
                    self.logger.info("registered again", metadata: ["key": "\(self.key)"])
                    break
                } catch {
                    self.logger.warning("could not register again; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
            }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.maintain(readOnly: self.isReadOnly) }
        await self.close()
    }

    /// Ends the session, removing the key.
    func close() async {
        let session = self.session.withLock { $0 }
        try? await self.metadata.closeSession(session)
    }
}
