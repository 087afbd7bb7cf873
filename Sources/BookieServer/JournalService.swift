import BookieStorage
import Logging
import NIOPosix
import ServiceLifecycle

/// Keeps the store's journal (its writer and sync threads) running for as long as the
/// bookie runs, and closes the store last: after every service that uses the store
/// stopped, it flushes the write cache to the entry logs and closes the journal and the
/// index, on a thread of its own.
///
/// It is the first service of the bookie's group, so graceful shutdown reaches it last.
/// Started with a store that is already open (replay happens before the group runs).
final class JournalService: Service, Sendable {
    private let store: BookieStore
    private let users: StoreUsers
    private let logger: Logger

    init(store: BookieStore, users: StoreUsers, logger: Logger) {
        self.store = store
        self.users = users
        self.logger = logger
    }

    /// Returns after graceful shutdown or cancellation, once the store is closed.
    func run() async throws {
        // Cancelled or shut down gracefully: the store is closed either way.
        try? await gracefulShutdown()
        await self.users.waitUntilAllLeft()
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let store = self.store
        let closed = await Result { () async throws -> Void in
            try await pool.runToCompletion {
                defer { store.close() }
                try store.flush()
            }
        }
        try? await pool.shutdownGracefully()
        if case .failure(let error) = closed {
            throw BookieServiceError(.storeClose, "the final flush of the store failed; the journal replays it at the next start", cause: error)
        }
        self.logger.info("the store is flushed and closed")
    }
}
