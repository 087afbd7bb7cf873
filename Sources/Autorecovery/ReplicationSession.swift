import Logging
import Metadata
import Synchronization

/// The metadata session autorecovery's ephemeral keys (the auditor's leadership, workers'
/// claims) live in. When it ends, the keys go with it (another bookie's auditor or worker
/// takes over) and a new one is opened.
final class ReplicationSession: Sendable {
    private let metadata: any MetadataStore
    private let ttl: Duration
    private let logger: Logger
    private let session = Mutex<MetadataSession?>(nil)

    init(metadata: any MetadataStore, ttl: Duration, logger: Logger) {
        self.metadata = metadata
        self.ttl = ttl
        self.logger = logger
    }

    /// The live session, if there is one now.
    var current: MetadataSession? { self.session.withLock { $0 } }

    /// Opens a session and keeps it alive until cancelled, opening another when one ends
    /// (with backoff while the store cannot be reached).
    func maintain() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let opened = try await self.metadata.createSession(ttl: self.ttl)
                self.session.withLock { $0 = opened }
                delay = .milliseconds(100)
                try await self.metadata.keepSessionAlive(opened)
                return  // Cancelled: the session stays for close().
            } catch {
                if Task.isCancelled { return }
                self.logger.warning("autorecovery's metadata session ended; opening another", metadata: ["error": "\(error)"])
            }
            self.session.withLock { $0 = nil }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// Closes the session (its keys go at once); for after ``maintain()`` returned.
    func close() async {
        let last = self.session.withLock { session in
            defer { session = nil }
            return session
        }
        if let last { try? await self.metadata.closeSession(last) }
    }
}
