import BookieStorage
import Logging
import NIOPosix
import ServiceLifecycle

/// Flushes the store's write cache to the entry logs and records a checkpoint every
/// `interval`, on a thread of its own, so that the journal can be trimmed and a restart
/// replays little. At graceful shutdown (after the servers stopped taking adds) it flushes
/// once more.
final class FlushService: Service, Sendable {
    private let store: BookieStore
    private let interval: Duration
    private let logger: Logger

    init(store: BookieStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        let (store, logger) = (self.store, self.logger)
        await PeriodicWork.run(every: self.interval) { pool in
            await Self.flush(store, on: pool, logger: logger)
        } atGracefulShutdown: { pool in
            // What the servers acknowledged goes to the entry logs now.
            do {
                try await pool.runToCompletion { try store.flush() }
            } catch {
                logger.error("flush failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private static func flush(_ store: BookieStore, on pool: NIOThreadPool, logger: Logger) async {
        do {
            try await pool.runIfActive { try store.flush() }
        } catch {
            logger.error("flush failed", metadata: ["error": "\(error)"])
        }
    }
}
