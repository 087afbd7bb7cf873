import NIOCore
import NIOPosix
import Synchronization
public import ServiceLifecycle

extension BookieServer: Service {
    /// Serves until graceful shutdown or cancellation, then stops accepting, stops reading
    /// requests and (at graceful shutdown) answers those read, for up to 2 s, closes every
    /// connection, and shuts down the blocking pool given to
    /// ``serve(store:blockingPool:metrics:keys:info:)`` once the work queued on it is done, so
    /// that nothing touches the store after this returns. Throws when the listening socket
    /// closes by itself.
    public func run() async throws {
        let stopping = StopFlag()
        let channel = self.channel
        let ended: (any Error)? = await withTaskCancellationOrGracefulShutdownHandler {
            do {
                try await channel.closeFuture.get()
                return nil
            } catch {
                return error
            }
        } onCancelOrGracefulShutdown: {
            stopping.set()
            channel.close(promise: nil)
        }
        let connections = self.slot.closeConnections()
        if !Task.isCancelled {
            // Read no more requests, and answer those read (adds the journal is writing,
            // reads on the pool) before the connections close: for up to 2 s.
            for connection in connections {
                try? await connection.setOption(.autoRead, value: false).get()
            }
            await self.slot.inFlight.waitUntilNone(timeout: .seconds(2))
        }
        for connection in connections {
            try? await connection.close()
        }
        if let pool = self.slot.serving.withLock({ $0?.blockingPool }) {
            try? await pool.shutdownGracefully()
        }
        if !stopping.isSet {
            throw BookieServiceError(
                .serverStopped, "the bookie's listening socket closed while the bookie was running",
                cause: ended
            )
        }
    }
}

extension BookieServer.Slot {
    /// Adds `channel` to the open connections until it closes; false when the server has
    /// stopped (the connection is then refused).
    func track(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let accepted = self.connections.withLock { connections in
            guard !connections.closed else { return false }
            connections.open[id] = channel
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { _ in
            _ = self.connections.withLock { $0.open.removeValue(forKey: id) }
        }
        return true
    }

    /// Marks the server stopped and returns the connections open now.
    func closeConnections() -> [any Channel] {
        self.connections.withLock { connections in
            connections.closed = true
            return Array(connections.open.values)
        }
    }
}
