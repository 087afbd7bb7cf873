import HTTPServing
import ServiceLifecycle

/// The REST server as a `Service`: it serves from the moment it is bound and stops
/// accepting on graceful shutdown.
struct HTTPService: Service {
    let server: HTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        try? await self.server.close()
    }
}
