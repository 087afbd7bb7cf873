import ServiceLifecycle

/// Runs a service after calling `announce`: the group's signal handlers are in place by
/// the time any service runs, so a "serving" line logged here tells a supervisor or a test
/// that SIGTERM now stops the bookie in order.
struct AnnouncedService: Service {
    let service: any Service
    let announce: @Sendable () -> Void

    func run() async throws {
        self.announce()
        try await self.service.run()
    }
}
