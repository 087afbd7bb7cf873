import NIOCore
import NIOPosix

extension NIOThreadPool {
    /// Runs `body` on the pool and waits for its result, also when the calling task is
    /// cancelled (`runIfActive` drops work not yet started then): for work that must
    /// happen however the bookie stops, as closing the store.
    func runToCompletion<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await self.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any(), body).get()
    }
}
