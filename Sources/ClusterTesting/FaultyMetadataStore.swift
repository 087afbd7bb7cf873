public import Metadata
import Synchronization

/// A metadata store that passes everything to another, except that a chosen write is
/// applied and then reported as failed with `unavailable`, as an etcd put whose deadline
/// passes after the commit is.
///
/// For tests only: it produces the one fault a real store cannot be made to produce on
/// demand. Arm it with ``failAfterApplying(times:where:)``: a write (put or delete) that
/// matches the predicate goes through to the wrapped store, and when the store applied
/// it, the caller gets `MetadataError(.unavailable, …)` instead of the new version.
public final class FaultyMetadataStore: MetadataStore {
    /// A write about to be made: its key, and the value (nil for a delete).
    public typealias Predicate = @Sendable (_ key: String, _ value: [UInt8]?) -> Bool

    private struct Rule {
        var remaining: Int
        var predicate: Predicate
    }

    private let base: any MetadataStore
    private let rules = Mutex<[Rule]>([])
    private let injected = Mutex<[String]>([])

    /// Wraps `base`, which the caller keeps owning: ``close()`` does not close it.
    public init(wrapping base: any MetadataStore) {
        self.base = base
    }

    /// The next `times` writes matching `predicate` are applied, then reported as failed.
    public func failAfterApplying(times: Int = 1, where predicate: @escaping Predicate) {
        precondition(times > 0, "a rule must fail at least one write")
        self.rules.withLock { $0.append(Rule(remaining: times, predicate: predicate)) }
    }

    /// The keys of the writes that were applied and reported as failed, in order.
    public var injectedFailures: [String] { self.injected.withLock { $0 } }

    /// Whether a write just applied is to be reported as failed; uses up one turn of the
    /// first matching rule (a write the wrapped store refused uses up none).
    private func takeFault(_ key: String, _ value: [UInt8]?) -> Bool {
        self.rules.withLock { rules in
            guard let index = rules.firstIndex(where: { $0.remaining > 0 && $0.predicate(key, value) }) else { return false }
            rules[index].remaining -= 1
            return true
        }
    }

    private func fault(_ key: String) -> MetadataError {
        self.injected.withLock { $0.append(key) }
        return MetadataError(.unavailable, "injected: the write of \(key) was applied, but its answer was lost")
    }

    public func get(_ key: String) async throws -> Versioned? {
        try await self.base.get(key)
    }

    @discardableResult
    public func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64 {
        let version = try await self.base.put(key, value: value, expecting: expecting, session: session)
        if self.takeFault(key, value) { throw self.fault(key) }
        return version
    }

    public func delete(_ key: String, expecting: Expectation) async throws {
        try await self.base.delete(key, expecting: expecting)
        if self.takeFault(key, nil) { throw self.fault(key) }
    }

    public func children(of path: String) async throws -> [String] {
        try await self.base.children(of: path)
    }

    public func watch(_ scope: WatchScope) async throws -> MetadataWatch {
        try await self.base.watch(scope)
    }

    public func createSession(ttl: Duration) async throws -> MetadataSession {
        try await self.base.createSession(ttl: ttl)
    }

    public func keepAlive(_ session: MetadataSession) async throws {
        try await self.base.keepAlive(session)
    }

    public func closeSession(_ session: MetadataSession) async throws {
        try await self.base.closeSession(session)
    }

    /// Does nothing: the wrapped store belongs to whoever made it.
    public func close() async {}
}
