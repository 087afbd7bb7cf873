import HTTPServing
import NIOPosix
import ServiceLifecycle

/// The bookie's HTTP endpoints (`/metrics`, `/health`) as a service: bound by
/// ``start(host:port:router:)`` before the data directories are opened, served until
/// graceful shutdown or cancellation, then closed. The only place that starts and stops
/// the HTTP server.
final class BookieHTTPService: Service, Sendable {
    private let server: HTTPServer

    /// The port the server listens on.
    var localPort: Int { self.server.localPort }

    private init(server: HTTPServer) {
        self.server = server
    }

    /// Binds `host:port` (0 picks a free port) and starts answering through `router`.
    static func start(host: String, port: Int, router: HTTPRouter) async throws -> BookieHTTPService {
        BookieHTTPService(server: try await HTTPServer.start(host: host, port: port, router: router, group: MultiThreadedEventLoopGroup.singleton))
    }

    /// Stops accepting connections. For a service that never ran.
    func close() async {
        try? await self.server.close()
    }

    func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }
}
