import ClusterTesting
import Foundation
import Testing

/// Three real bookies, a real broker, and the real Pulsar Python client.
struct BrokerCluster {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let broker: ChildProcess
    let port: Int
    let httpPort: Int

    var serviceURL: String { "pulsar://127.0.0.1:\(self.port)" }

    static func start(label: String) async throws -> BrokerCluster {
        let directory = try TemporaryDirectory(label: label)
        let bookies = try await BookieCluster.start(count: 3, directory: directory, journalSync: false)
        let port = try FreePort.allocate()
        let httpPort = try FreePort.allocate()
        let broker = try ChildProcess(
            try BuiltProducts.path(of: "broker"),
            ["--metadata-url", bookies.metadataURL, "--listen", "127.0.0.1:\(port)", "--http-port", "\(httpPort)"],
            logPath: directory.file("broker.log")
        )
        try await broker.waitForOutput("broker serving")
        return BrokerCluster(directory: directory, bookies: bookies, broker: broker, port: port, httpPort: httpPort)
    }

    func stop() {
        self.broker.stop()
        self.bookies.stopAll()
        self.directory.remove()
    }

    /// Runs a script of `Scripts/` with the Pulsar client's Python; returns its status and output.
    func python(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        let python = try PythonClient.interpreter()
        return try await ChildProcess.run(python, [scripts.appendingPathComponent(script).path] + arguments, timeout: .seconds(120))
    }
}

/// The virtual environment with `pulsar-client` that `tools/setup` makes under `.build/`.
enum PythonClient {
    static func interpreter() throws -> String {
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent(".build/pyvenv/bin/python").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestHarnessError("no .build/pyvenv with pulsar-client: run tools/setup")
    }
}

@Suite("Broker with the real Pulsar client", .timeLimit(.minutes(4)))
struct BrokerTests {
    @Test(arguments: [("lz4", "exclusive"), ("zstd", "shared"), ("none", "failover")])
    func batchedProduceAndConsume(compression: String, subscription: String) async throws {
        let cluster = try await BrokerCluster.start(label: "broker-\(compression)")
        defer { cluster.stop() }
        let result = try await cluster.python("produce_consume.py", [cluster.serviceURL, "persistent://public/default/t-\(compression)", compression, subscription, "2000"])
        #expect(result.status == 0, "\(result.output)\nbroker log:\n\(cluster.broker.output().suffix(3000))")
        #expect(result.output.contains("OK 2000 messages"))
    }
}

@Suite("magnetar standalone", .timeLimit(.minutes(3)))
struct StandaloneTests {
    /// Starts the one-host cluster, publishes, stops it with SIGTERM (every child goes),
    /// starts it again on the same data directory and reads the same messages back.
    @Test func aSecondStartServesTheSameMessages() async throws {
        let directory = try TemporaryDirectory(label: "standalone")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let arguments = [
            "standalone", "--data-dir", directory.file("data"), "--port", "\(port)", "--http-port", "\(try FreePort.allocate())",
            "--bookie-port", "\(try FreePort.allocate())",
        ]
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/produce_then_consume.py").path
        let python = try PythonClient.interpreter()
        let service = "pulsar://127.0.0.1:\(port)"
        let topic = "persistent://public/default/standalone"
        for (round, mode) in ["produce", "consume"].enumerated() {
            let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), arguments, logPath: directory.file("standalone-\(round).log"))
            defer { cluster.stop() }
            try await cluster.waitForOutput("Ctrl-C stops the cluster")
            try await Self.waitForBroker(directory.file("data/broker.log"), round: round)
            let result = try await ChildProcess.run(python, [scripts, service, topic, mode, "200"], timeout: .seconds(90))
            #expect(result.status == 0 && result.output.contains("OK \(mode) 200"), "\(result.output.suffix(2000))")
            cluster.kill(SIGTERM)
            #expect(try await cluster.waitForExit(timeout: .seconds(40)) == 0)
            #expect(cluster.output().contains("stopping"))
        }
    }

    /// Waits until the broker log says it serves for the `round`-th time.
    static func waitForBroker(_ log: String, round: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "broker serving").count - 1 > round { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestHarnessError("the broker did not start (round \(round))")
    }
}
