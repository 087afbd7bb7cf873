import ClusterTesting
import Foundation
import Metadata
import Testing

/// The embedded store shared by several real processes through one file.
@Suite("SQLite store across processes", .timeLimit(.minutes(2)))
struct SQLiteProcessTests {
    @Test func aKilledProcessLosesItsEphemeralKeyWithinTheTTL() async throws {
        let directory = try TemporaryDirectory(label: "sqlite-kill")
        defer { directory.remove() }
        let url = "sqlite:\(directory.file("metadata.db"))"
        let store = try await MetadataStoreURL.open(url, logger: testLogger)
        let key = "/bookies/available/bookie-1"
        let events = EventCollector(try await store.watch(.key(key)))
        let ttl = Duration.milliseconds(1500)
        let holder = try ChildProcess(
            try BuiltProducts.path(of: "magnetar"),
            ["metadata", "put", "--metadata-url", url, "--ephemeral", "--ttl-ms", "1500", key, #"{"address":"127.0.0.1:3181"}"#],
            logPath: directory.file("holder.log")
        )
        defer { holder.stop() }
        try await holder.waitForOutput("holding")
        try await events.wait { $0.count == 1 }
        let held = try #require(try await store.get(key))
        #expect(held.session != nil)
        // Let the child keep the session alive past several TTLs first.
        try await Task.sleep(for: ttl * 2)
        #expect(try await store.get(key) != nil, "kept alive by the child")

        holder.kill(SIGKILL)
        let killed = ContinuousClock.now
        let seen = try await events.wait(timeout: ttl + .seconds(5)) { $0.contains { $0.kind == .delete } }
        let elapsed = ContinuousClock.now - killed
        #expect(seen.last?.kind == .delete && seen.last?.key == key)
        #expect(elapsed <= ttl + .milliseconds(500), "the key went \(elapsed) after SIGKILL with a TTL of \(ttl)")
        #expect(try await store.get(key) == nil)
        await store.close()
    }

    @Test func watchesSeeAnotherProcesssWrites() async throws {
        let directory = try TemporaryDirectory(label: "sqlite-watch")
        defer { directory.remove() }
        let url = "sqlite:\(directory.file("metadata.db"))"
        let store = try await MetadataStoreURL.open(url, logger: testLogger)
        let events = EventCollector(try await store.watch(.prefix("/shared/")))
        for index in 0..<3 {
            let writer = try ChildProcess(
                try BuiltProducts.path(of: "magnetar"),
                ["metadata", "put", "--metadata-url", url, "/shared/k\(index)", "v\(index)"],
                logPath: directory.file("writer\(index).log")
            )
            try await writer.waitForOutput("version")
            writer.stop()
        }
        let seen = try await events.wait { $0.count >= 3 }
        #expect(seen.map(\.key) == ["/shared/k0", "/shared/k1", "/shared/k2"])
        #expect(seen.map { String(decoding: $0.value, as: UTF8.self) } == ["v0", "v1", "v2"])
        await store.close()
    }

    @Test func twoConnectionsAllocateDisjointIDs() async throws {
        let directory = try TemporaryDirectory(label: "sqlite-ids")
        defer { directory.remove() }
        let path = directory.file("metadata.db")
        let first = try await SQLiteMetadataStore.open(.init(path: path), logger: testLogger)
        let second = try await SQLiteMetadataStore.open(.init(path: path), logger: testLogger)
        async let a = (0..<40).asyncMap { _ in try await first.nextID("ledger-id") }
        async let b = (0..<40).asyncMap { _ in try await second.nextID("ledger-id") }
        let all = try await a + b
        #expect(Set(all).count == 80)
        #expect(all.sorted() == Array(1...80))
        await first.close()
        await second.close()
    }

    @Test func anUnopenableFileIsAClearError() async throws {
        let directory = try TemporaryDirectory(label: "sqlite-bad")
        defer { directory.remove() }
        let missing = await metadataError {
            _ = try await MetadataStoreURL.open("sqlite:\(directory.file("no/such/dir/metadata.db"))", logger: testLogger)
        }
        #expect(missing?.code == .unavailable)
        #expect(missing?.message.contains("no/such/dir") == true)

        let garbage = directory.file("garbage.db")
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let corrupt = await metadataError { _ = try await MetadataStoreURL.open("sqlite:\(garbage)", logger: testLogger) }
        #expect(corrupt?.code == .unavailable)
        #expect(corrupt?.message.contains("garbage.db") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == Data(repeating: 0x5A, count: 8192), "left untouched")
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
