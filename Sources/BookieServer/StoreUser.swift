import ServiceLifecycle

/// Runs a service that uses the store and tells ``StoreUsers`` when it ended, whichever
/// way it ended.
struct StoreUser: Service {
    let service: any Service
    let users: StoreUsers

    func run() async throws {
        defer { self.users.leave() }
        try await self.service.run()
    }
}
