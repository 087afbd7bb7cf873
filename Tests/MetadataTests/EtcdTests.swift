import ClusterTesting
import Metadata
import Testing

/// etcd specifics: endpoint failover and unreachable clusters.
@Suite("etcd store", .timeLimit(.minutes(2)))
struct EtcdTests {
    @Test func callsFailOverToALiveEndpoint() async throws {
        let live = try await SharedEtcd.shared.url()
        let dead = try FreePort.allocate()
        let url = "etcd://127.0.0.1:\(dead),\(live.dropFirst("etcd://".count))"
        let store = try await MetadataStoreURL.open(url, logger: testLogger)
        let root = "/failover-\(UInt32.random(in: 0...UInt32.max))"
        let events = EventCollector(try await store.watch(.prefix("\(root)/")))
        let version = try await store.put("\(root)/k", value: "v".bytes, expecting: .absent)
        #expect(try await store.get("\(root)/k") == Versioned(value: "v".bytes, version: version))
        let seen = try await events.wait { !$0.isEmpty }
        #expect(seen.first?.version == version)
        let session = try await store.createSession(ttl: .seconds(5))
        try await store.keepAlive(session)
        try await store.closeSession(session)
        await store.close()
    }

    @Test func callsFailOverFromAMemberThatHangs() async throws {
        let directory = try TemporaryDirectory(label: "etcd-hang")
        defer { directory.remove() }
        let cluster = try await EtcdCluster.start(count: 3, directory: directory)
        defer { cluster.stopAll() }
        // The first endpoint accepts connections and never answers (SIGSTOP): calls must
        // move on to the others within their timeout, not wait on it to the end.
        let url = "etcd://" + (0..<3).map { "127.0.0.1:\(cluster.clientPort($0))" }.joined(separator: ",")
        let store = try await MetadataStoreURL.open(url, logger: testLogger)
        try await store.put("/hang/warm", value: "0".bytes)
        cluster.pause(0)
        defer { cluster.resume(0) }
        let start = ContinuousClock.now
        let version = try await store.put("/hang/k", value: "v".bytes, expecting: .absent)
        #expect(try await store.get("/hang/k") == Versioned(value: "v".bytes, version: version))
        #expect(ContinuousClock.now - start < .seconds(5), "the calls took \(ContinuousClock.now - start)")
        // Later calls go to a member that answers first.
        let later = ContinuousClock.now
        _ = try await store.get("/hang/k")
        #expect(ContinuousClock.now - later < .seconds(1))
        cluster.resume(0)
        await store.close()
    }

    @Test func anUnreachableClusterIsUnavailable() async throws {
        let url = "etcd://127.0.0.1:\(try FreePort.allocate()),127.0.0.1:\(try FreePort.allocate())"
        let store = try await MetadataStoreURL.open(url, logger: testLogger)
        let start = ContinuousClock.now
        let error = await metadataError { _ = try await store.get("/anything") }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - start < .seconds(15))
        await store.close()
    }

    @Test func aWatchResumesAcrossAnEtcdRestartWithoutLosingEvents() async throws {
        let server = try await EtcdServer.start()
        defer { server.stop() }
        let store = try await MetadataStoreURL.open(server.url, logger: testLogger)
        let events = EventCollector(try await store.watch(.prefix("/resume/")))
        try await store.put("/resume/a", value: "1".bytes)
        try await events.wait { $0.count == 1 }
        // A second store writes while the first one's stream is broken by a restart.
        try await server.restart()
        let writer = try await MetadataStoreURL.open(server.url, logger: testLogger)
        try await writer.put("/resume/b", value: "2".bytes)
        try await writer.put("/resume/c", value: "3".bytes)
        let seen = try await events.wait(timeout: .seconds(20)) { $0.count >= 3 }
        #expect(seen.map(\.key) == ["/resume/a", "/resume/b", "/resume/c"])
        await writer.close()
        await store.close()
    }
}
