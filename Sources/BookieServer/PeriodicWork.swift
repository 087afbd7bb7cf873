import NIOPosix
import ServiceLifecycle

/// The loop of the bookie's periodic services (flusher, garbage collector, disk watcher):
/// `step` runs every `interval` on a thread pool of its own until graceful shutdown or
/// cancellation; a step under way finishes first. `last` then runs on the same pool,
/// unless the service was cancelled, and the pool is shut down.
enum PeriodicWork {
    static func run(
        every interval: Duration,
        _ step: @escaping @Sendable (NIOThreadPool) async -> Void,
        atGracefulShutdown last: (@Sendable (NIOThreadPool) async -> Void)? = nil
    ) async {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await step(pool)
            }
        }
        if let last, !Task.isCancelled { await last(pool) }
        try? await pool.shutdownGracefully()
    }
}
