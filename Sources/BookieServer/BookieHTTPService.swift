import MagnetarHTTP
import ServiceLifecycle

/// The bookie's HTTP endpoints (`/metrics`, `/health`) as a service of its group. The
/// server itself runs from before the store opens (``BookieService/run(configuring:)``);
/// this service stops it at its turn in the group's graceful shutdown.
struct BookieHTTPService: Service {
    let server: HTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        self.server.stop()
    }
}
