public import Hummingbird
public import Logging
public import ServiceLifecycle
import NIOCore
import Synchronization

/// The HTTP/1.1 server of the broker's and the bookie's REST, metrics and health endpoints,
/// on Hummingbird.
///
/// A `Service`: ``run()`` binds the port and serves until graceful shutdown, ``stop()``
/// or cancellation of the task running it. Port 0 picks a free port, which ``boundPort()``
/// tells once the socket is bound (it throws if the server failed or stopped before
/// binding, e.g. because the port is taken).
public final class HTTPServer: Service, Sendable {
    /// The default limit on a request body: 1 MiB (see `Request.collectBody(limit:)`).
    public static let defaultMaxBodySize = 1 << 20

    private let application: Application<RouterResponder<BasicRequestContext>>
    private let binding: Binding
    /// Finished by ``stop()``.
    private let stops: (stream: AsyncStream<Never>, continuation: AsyncStream<Never>.Continuation)
    private let stopped: Atomic<Bool>

    /// How long a connection may stay open with no request under way (default 30 s): an
    /// idle client, or one that never finishes sending a request's head (slowloris), is
    /// closed then.
    public static let defaultIdleTimeout: Duration = .seconds(30)

    /// A server for `router` on `host:port`; a connection with no request under way for
    /// `idleTimeout` is closed.
    public init(host: String, port: Int, router: Router<BasicRequestContext>, idleTimeout: Duration = HTTPServer.defaultIdleTimeout, logger: Logger) {
        let binding = Binding()
        self.binding = binding
        self.stops = AsyncStream.makeStream()
        self.stopped = Atomic(false)
        let timeout = TimeAmount.milliseconds(max(1, min(idleTimeout.components.seconds, 1 << 32) * 1000 + idleTimeout.components.attoseconds / 1_000_000_000_000_000))
        self.application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: timeout)),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), reuseAddress: true),
            onServerRunning: { channel in binding.bound(port: channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Binds the port and serves until graceful shutdown, ``stop()`` or cancellation.
    /// Open connections are closed when it returns.
    public func run() async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.application.run() }
                group.addTask { for await _ in self.stops.stream {} }
                try await group.next()
                group.cancelAll()
            }
        } catch where !self.stopped.load(ordering: .relaxed) {
            self.binding.failed(error)
            throw error
        } catch {
            // Stopping cancelled the server; how it ended is of no interest.
        }
        self.binding.failed(HTTPServerError(.stoppedBeforeBinding, "the HTTP server stopped before it was bound"))
    }

    /// Ends ``run()``: the port is closed, then open connections.
    public func stop() {
        self.stopped.store(true, ordering: .relaxed)
        self.stops.continuation.finish()
    }

    /// The port the server listens on, once it is bound; waits for the binding.
    ///
    /// - Throws: the error ``run()`` failed with, or an ``HTTPServerError`` with code `stoppedBeforeBinding`.
    public func boundPort() async throws -> Int {
        try await self.binding.port()
    }
}
