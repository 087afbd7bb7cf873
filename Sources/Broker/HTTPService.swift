import MagnetarHTTP
import ServiceLifecycle

/// The broker's REST server as a `Service` of its group: it serves until graceful
/// shutdown, and tells `bound` its port once it listens (port 0 picks one).
struct HTTPService: Service {
    let server: HTTPServer
    let bound: @Sendable (Int) -> Void

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.server.run() }
            self.bound(try await self.server.boundPort())
            try await group.waitForAll()
        }
    }
}
