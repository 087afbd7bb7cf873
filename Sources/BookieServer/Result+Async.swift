extension Result where Failure == any Error {
    /// The outcome of `body`, which may suspend.
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
