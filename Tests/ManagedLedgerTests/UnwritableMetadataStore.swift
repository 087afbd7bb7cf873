import Metadata
import Synchronization

/// A metadata store that passes every call to `base` except writes while ``failWrites``
/// is set: those throw `unavailable` without reaching the store, as an unreachable or
/// stalled store does. Reads, watches and sessions always go through.
final class UnwritableMetadataStore: MetadataStore {
    let base: any MetadataStore
    private let failing = Atomic<Bool>(false)

    init(_ base: any MetadataStore) {
        self.base = base
    }

    /// While true, `put` and `delete` fail with `unavailable`.
    var failWrites: Bool {
        get { self.failing.load(ordering: .sequentiallyConsistent) }
        set { self.failing.store(newValue, ordering: .sequentiallyConsistent) }
    }

    private func checkWritable(_ key: String) throws {
        if self.failWrites { throw MetadataError(.unavailable, "writes are failing for this test (\(key))") }
    }

    func get(_ key: String) async throws -> Versioned? { try await self.base.get(key) }

    func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64 {
        try self.checkWritable(key)
        return try await self.base.put(key, value: value, expecting: expecting, session: session)
    }

    func delete(_ key: String, expecting: Expectation) async throws {
        try self.checkWritable(key)
        try await self.base.delete(key, expecting: expecting)
    }

    func children(of path: String) async throws -> [String] { try await self.base.children(of: path) }
    func watch(_ scope: WatchScope) async throws -> MetadataWatch { try await self.base.watch(scope) }
    func createSession(ttl: Duration) async throws -> MetadataSession { try await self.base.createSession(ttl: ttl) }
    func keepAlive(_ session: MetadataSession) async throws { try await self.base.keepAlive(session) }
    func closeSession(_ session: MetadataSession) async throws { try await self.base.closeSession(session) }
    func close() async {}
}
