import ClusterTesting
import Foundation
import Testing

/// The built `magnetar admin` against a real `magnetar standalone` cluster, for the
/// routes the broker serves.
@Suite(.timeLimit(.minutes(3)))
struct AdminClusterTests {
    @Test func commandsAgainstAStandaloneCluster() async throws {
        let directory = try TemporaryDirectory(label: "admin-standalone")
        defer { directory.remove() }
        let firsts = try FreePort.allocateRuns(3, length: 3)
        let (port, httpPort, bookiePort) = (firsts[0], firsts[1], firsts[2])
        let cluster = try ChildProcess(
            try BuiltProducts.path(of: "magnetar"),
            [
                "standalone", "--data-dir", directory.file("data"), "--port", "\(port)", "--http-port", "\(httpPort)",
                "--bookie-port", "\(bookiePort)",
            ],
            logPath: directory.file("standalone.log")
        )
        defer { cluster.stop() }
        try await cluster.waitForOutput("Ctrl-C stops the cluster", timeout: .seconds(60))
        try await Self.waitForBroker(directory.file("data/broker.log"))

        let url = "http://127.0.0.1:\(httpPort)"
        func admin(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await ChildProcess.run(try BuiltProducts.path(of: "magnetar"), ["admin"] + arguments + ["--admin-url", url])
        }
        func json(_ arguments: [String]) async throws -> Any {
            let result = try await admin(arguments + ["-o", "json"])
            #expect(result.status == 0, "\(arguments): \(result.output)")
            return try JSONSerialization.jsonObject(with: Data(result.output.utf8), options: .fragmentsAllowed)
        }

        let namespaces = try await admin(["namespaces", "list", "public"])
        #expect(namespaces.status == 0 && namespaces.output.split(separator: "\n").contains("public/default"), "\(namespaces.output)")
        #expect(try await json(["namespaces", "list", "public"]) as? [String] == namespaces.output.split(separator: "\n").map(String.init))

        let created = try await admin(["namespaces", "create", "public/ops", "--bundles", "8"])
        #expect(created.status == 0 && created.output == "created namespace public/ops\n", "\(created.output)")
        let bundles = try await json(["namespaces", "bundles", "public/ops"]) as? [String: Any]
        #expect(bundles?["numBundles"] as? Int == 8, "\(String(describing: bundles))")
        let again = try await admin(["namespaces", "create", "public/ops"])
        #expect(again.status == 1, "\(again.output)")
        #expect(again.output.hasPrefix("Error: ") && again.output.contains("already exists") && again.output.contains("409"), "\(again.output)")

        let topic = "persistent://public/ops/p"
        let partitioned = try await admin(["topics", "create-partitioned-topic", topic, "-p", "3"])
        #expect(partitioned.status == 0 && partitioned.output.contains("created \(topic)"), "\(partitioned.output)")
        let metadata = try await admin(["topics", "get-partitioned-topic-metadata", topic])
        #expect(metadata.status == 0 && metadata.output == "partitions: 3\n", "\(metadata.output)")
        #expect((try await json(["topics", "get-partitioned-topic-metadata", topic]) as? [String: Any])?["partitions"] as? Int == 3)

        let persistence = try await admin(["namespaces", "set-persistence", "public/ops", "-e", "1", "-w", "1", "-a", "1"])
        #expect(persistence.status == 0, "\(persistence.output)")
        let stored = try await json(["namespaces", "get-persistence", "public/ops"]) as? [String: Any]
        #expect(stored?["bookkeeperEnsemble"] as? Int == 1 && stored?["bookkeeperAckQuorum"] as? Int == 1, "\(String(describing: stored))")
        let refused = try await admin(["namespaces", "set-persistence", "public/ops", "-e", "1", "-w", "2", "-a", "1"])
        #expect(refused.status == 1 && refused.output.contains("Error: "), "\(refused.output)")

        #expect(try await admin(["namespaces", "set-storage-compression", "public/ops", "-c", "zstd"]).status == 0)
        let compression = try await admin(["namespaces", "get-storage-compression", "public/ops"])
        #expect(compression.status == 0 && compression.output == "zstd\n", "\(compression.output)")
        #expect(try await json(["namespaces", "get-storage-compression", "public/ops"]) as? String == "zstd")

        let brokers = try await admin(["brokers", "list", "standalone"])
        #expect(brokers.status == 0 && brokers.output == "127.0.0.1:\(httpPort)\n", "\(brokers.output)")
        let health = try await admin(["brokers", "healthcheck"])
        #expect(health.status == 0 && health.output == "ok\n", "\(health.output)")
        let unload = try await admin(["namespaces", "unload", "public/ops"])
        #expect(unload.status == 0 && unload.output == "unloaded public/ops\n", "\(unload.output)")
        let missing = try await admin(["namespaces", "bundles", "public/none"])
        #expect(missing.status == 1 && missing.output.contains("404"), "\(missing.output)")

        let closedPort = try FreePort.allocate()
        let closed = try await ChildProcess.run(
            try BuiltProducts.path(of: "magnetar"), ["admin", "namespaces", "list", "public", "--admin-url", "http://127.0.0.1:\(closedPort)"]
        )
        #expect(closed.status == 3, "\(closed.output)")

        cluster.kill(SIGTERM)
        #expect(try await cluster.waitForExit(timeout: .seconds(40)) == 0)
    }

    /// Waits until the broker's log says it serves.
    static func waitForBroker(_ log: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("broker serving") { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no log)"
        throw TestHarnessError("the broker did not start; \(log) ends:\n\(text.suffix(3000))")
    }
}
