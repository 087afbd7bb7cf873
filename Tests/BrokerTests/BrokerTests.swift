import ClusterTesting
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Three real bookies, a real broker, and the real Pulsar Python client.
struct BrokerCluster {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let broker: ChildProcess
    let port: Int
    let httpPort: Int

    var serviceURL: String { "pulsar://127.0.0.1:\(self.port)" }

    /// Broker arguments that keep every message for ever (no retention limit): these
    /// tests drain topics, after restarts and moves, with subscriptions made after the
    /// messages were published. Arguments given after these win over them.
    static let keepEverything = ["--default-retention-time-minutes=-1", "--default-retention-size-mb=-1"]

    /// Starts the bookies and a broker; `brokerArguments` are added to the broker's command line.
    static func start(label: String, brokerArguments: [String] = []) async throws -> BrokerCluster {
        let directory = try TemporaryDirectory(label: label)
        let bookies = try await BookieCluster.start(count: 3, directory: directory, journalSync: false)
        let port = try FreePort.allocate()
        let httpPort = try FreePort.allocate()
        let broker = try ChildProcess(
            try BuiltProducts.path(of: "broker"),
            ["--metadata-url", bookies.metadataURL, "--listen", "127.0.0.1:\(port)", "--http-port", "\(httpPort)"] + Self.keepEverything
                + brokerArguments,
            logPath: directory.file("broker.log")
        )
        try await broker.waitForOutput("broker serving")
        return BrokerCluster(directory: directory, bookies: bookies, broker: broker, port: port, httpPort: httpPort)
    }

    /// Entry bytes the running bookies have stored (their `bookie_WRITE_BYTES`).
    func bookieBytesWritten() async throws -> Int {
        try await self.bookies.bytesWritten()
    }

    func stop() {
        self.broker.stop()
        self.bookies.stopAll()
        self.directory.remove()
    }

    /// Starts another broker process on the first one's ports and metadata (the first one
    /// killed), logging to `broker-2.log`, and waits until it serves. The caller stops it.
    func startSecondBroker() async throws -> ChildProcess {
        let restarted = try ChildProcess(
            try BuiltProducts.path(of: "broker"),
            ["--metadata-url", self.bookies.metadataURL, "--listen", "127.0.0.1:\(self.port)", "--http-port", "\(self.httpPort)"]
                + Self.keepEverything,
            logPath: self.directory.file("broker-2.log")
        )
        do {
            try await restarted.waitForOutput("broker serving")
        } catch {
            restarted.stop()
            throw error
        }
        return restarted
    }

    /// Starts `keep_producing.py` on `topic`; its output lists each receipted number after "R ".
    func keepProducing(_ topic: String) throws -> ChildProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/keep_producing.py")
        return try ChildProcess(try PythonClient.interpreter(), [script.path, self.serviceURL, topic], logPath: self.directory.file("producer.log"))
    }

    /// Consumes `topic` from the start until it is quiet; returns the numbers read, in order.
    func drain(_ topic: String) async throws -> [Int] {
        let drained = try await self.python("drain.py", [self.serviceURL, topic])
        #expect(drained.output.contains("DONE"), "\(drained.output.suffix(2000))")
        return Self.numbers(in: drained.output, prefix: "M ")
    }

    /// The numbers on the lines of `output` that start with `prefix`.
    static func numbers(in output: String, prefix: String) -> [Int] {
        output.split(separator: "\n").compactMap { $0.hasPrefix(prefix) ? Int($0.dropFirst(prefix.count)) : nil }
    }

    /// Runs a script of `Scripts/` with the Pulsar client's Python; returns its status and output.
    func python(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        let python = try PythonClient.interpreter()
        return try await ChildProcess.run(python, [scripts.appendingPathComponent(script).path] + arguments, timeout: .seconds(120))
    }
}

extension BookieCluster {
    /// Entry bytes the running bookies have stored (their `bookie_WRITE_BYTES`).
    func bytesWritten() async throws -> Int {
        var total = 0
        for index in self.ids.indices where self.isRunning(index) {
            guard let address = self.httpAddress(index) else { throw TestHarnessError("bookie \(index) has no HTTP address") }
            let (data, _) = try await URLSession.shared.data(from: URL(string: "http://\(address)/metrics")!)
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("bookie_WRITE_BYTES ") {
                total += Int(Double(line.split(separator: " ").last ?? "") ?? 0)
            }
        }
        return total
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
        let setup = try Setup(directory)
        let topic = "persistent://public/default/standalone"
        for (round, mode) in ["produce", "consume"].enumerated() {
            let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), setup.arguments, logPath: directory.file("standalone-\(round).log"))
            defer { cluster.stop() }
            try await cluster.waitForOutput("Ctrl-C stops the cluster")
            try await Self.waitForBroker(directory.file("data/broker.log"), round: round)
            let result = try await ChildProcess.run(setup.python, [setup.script, setup.service, topic, mode, "200"], timeout: .seconds(90))
            #expect(result.status == 0 && result.output.contains("OK \(mode) 200"), "\(result.output.suffix(2000))")
            cluster.kill(SIGTERM)
            #expect(try await cluster.waitForExit(timeout: .seconds(40)) == 0)
            #expect(cluster.output().contains("stopping"))
        }
    }

    /// `--brokers 2`: both brokers serve and know each other; a client of either reads
    /// what a client of the other wrote.
    @Test func twoBrokersServeOneCluster() async throws {
        let directory = try TemporaryDirectory(label: "standalone-brokers")
        defer { directory.remove() }
        let setup = try Setup(directory, brokers: 2)
        let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), setup.arguments, logPath: directory.file("standalone.log"))
        defer { cluster.stop() }
        try await cluster.waitForOutput("Ctrl-C stops the cluster")
        #expect(cluster.output().contains("pulsar://127.0.0.1:\(setup.port),127.0.0.1:\(setup.port + 1)"))
        for index in 1...2 { try await Self.waitForBroker(directory.file("data/broker-\(index).log"), round: 0) }
        let topic = "persistent://public/default/two-brokers"
        let produced = try await ChildProcess.run(setup.python, [setup.script, "pulsar://127.0.0.1:\(setup.port)", topic, "produce", "100"], timeout: .seconds(90))
        #expect(produced.status == 0 && produced.output.contains("OK produce 100"), "\(produced.output.suffix(2000))")
        let consumed = try await ChildProcess.run(setup.python, [setup.script, "pulsar://127.0.0.1:\(setup.port + 1)", topic, "consume", "100"], timeout: .seconds(90))
        #expect(consumed.status == 0 && consumed.output.contains("OK consume 100"), "\(consumed.output.suffix(2000))")
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(setup.httpPort + 1)/admin/v2/brokers/standalone")!)
        #expect(String(decoding: data, as: UTF8.self) == "[\"127.0.0.1:\(setup.httpPort)\",\"127.0.0.1:\(setup.httpPort + 1)\"]")
        cluster.kill(SIGTERM)
        #expect(try await cluster.waitForExit(timeout: .seconds(40)) == 0)
    }

    /// SIGKILL the broker and a bookie of a running standalone cluster: each is started
    /// again, and the cluster serves the messages published before.
    /// A `magnetar` with no bookie and broker beside it says what to build, and starts nothing.
    @Test func standaloneWithoutItsExecutablesSaysWhatToBuild() async throws {
        let directory = try TemporaryDirectory(label: "standalone-alone")
        defer { directory.remove() }
        let alone = directory.file("magnetar")
        try FileManager.default.copyItem(atPath: try BuiltProducts.path(of: "magnetar"), toPath: alone)
        let result = try await ChildProcess.run(alone, ["standalone", "--data-dir", directory.file("data")], timeout: .seconds(30))
        #expect(result.status != 0 && result.output.contains("no bookie executable beside magnetar") && result.output.contains("swift build"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("data/metadata.db")))
    }

    @Test func aChildThatDiesIsStartedAgain() async throws {
        let directory = try TemporaryDirectory(label: "standalone-supervise")
        defer { directory.remove() }
        let setup = try Setup(directory)
        let topic = "persistent://public/default/supervised"
        let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), setup.arguments, logPath: directory.file("standalone.log"))
        defer { cluster.stop() }
        try await cluster.waitForOutput("Ctrl-C stops the cluster")
        try await Self.waitForBroker(directory.file("data/broker.log"), round: 0)
        let produced = try await ChildProcess.run(setup.python, [setup.script, setup.service, topic, "produce", "100"], timeout: .seconds(90))
        #expect(produced.status == 0 && produced.output.contains("OK produce 100"), "\(produced.output.suffix(2000))")

        for (name, listening) in [("broker", "127.0.0.1:\(setup.port)"), ("bookie-1", "127.0.0.1:\(setup.bookiePort)")] {
            let pid = try #require(Self.process(with: listening), "no process listens on \(listening)")
            kill(pid, SIGKILL)
            try await cluster.waitForOutput("\(name) exited")
        }
        try await Self.waitForBroker(directory.file("data/broker.log"), round: 1)
        let consumed = try await ChildProcess.run(setup.python, [setup.script, setup.service, topic, "consume", "100"], timeout: .seconds(90))
        #expect(consumed.status == 0 && consumed.output.contains("OK consume 100"), "\(consumed.output.suffix(2000))")
        cluster.kill(SIGTERM)
        #expect(try await cluster.waitForExit(timeout: .seconds(40)) == 0)
    }

    /// A standalone cluster's command line on free ports, and the client script to run
    /// against it.
    struct Setup {
        let port: Int
        let httpPort: Int
        let bookiePort: Int
        let arguments: [String]
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/produce_then_consume.py").path
        let python: String
        var service: String { "pulsar://127.0.0.1:\(self.port)" }

        /// Broker i listens on port + i - 1 and http-port + i - 1, bookie i on
        /// bookie-port + i - 1: every one of them must be free, and no two the same.
        init(_ directory: TemporaryDirectory, brokers: Int = 1) throws {
            let firsts = try FreePort.allocateRuns(3, length: max(brokers, 3))
            (self.port, self.httpPort, self.bookiePort) = (firsts[0], firsts[1], firsts[2])
            self.arguments = [
                "standalone", "--data-dir", directory.file("data"), "--port", "\(self.port)", "--http-port", "\(self.httpPort)",
                "--bookie-port", "\(self.bookiePort)", "--brokers", "\(brokers)",
            ]
            self.python = try PythonClient.interpreter()
        }
    }

    /// The pid of the process whose command line has `--listen <address>`.
    static func process(with address: String) -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if let index = words.firstIndex(of: "--listen"), index + 1 < words.count, words[index + 1] == address { return pid }
        }
        return nil
    }

    /// Waits until the broker log says it serves for the `round`-th time.
    static func waitForBroker(_ log: String, round: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "broker serving").count - 1 > round { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? "(no log)"
        throw TestHarnessError("the broker did not start (round \(round)); \(log) ends:\n\(text.suffix(3000))")
    }
}

@Suite("Broker crashes", .timeLimit(.minutes(4)))
struct BrokerCrashTests {
    /// A producer keeps sending while the broker is SIGKILLed and started again on the same
    /// metadata: every receipted message is consumed afterwards, in the order sent, and the
    /// new owner copies nothing: the bytes bookies store grow by what is sent after the
    /// restart, not by the topic.
    @Test func everyReceiptedMessageSurvivesABrokerKill() async throws {
        let cluster = try await BrokerCluster.start(label: "broker-kill")
        defer { cluster.stop() }
        let topic = "persistent://public/default/crash"
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        try await Self.wait { receipted().count >= 1000 }
        cluster.broker.kill(SIGKILL)
        _ = try await cluster.broker.waitForExit()
        let beforeRestart = receipted().count
        let storedAtKill = try await cluster.bookieBytesWritten()
        let restarted = try await cluster.startSecondBroker()
        defer { restarted.stop() }
        try await Self.wait { receipted().count >= beforeRestart + 200 }
        producer.stop()
        let confirmed = Set(receipted())
        let grown = try await cluster.bookieBytesWritten() - storedAtKill
        #expect(storedAtKill > 0 && grown * 2 < storedAtKill, "bookies stored \(grown) bytes after the restart, \(storedAtKill) before")

        let consumed = try await cluster.drain(topic)
        let missing = confirmed.subtracting(consumed)
        #expect(missing.isEmpty, "\(missing.count) receipted messages lost, e.g. \(missing.sorted().prefix(10))")
        // A message resent after the crash may appear twice; first appearances keep the
        // order they were sent in.
        let firstSeen = consumed.enumerated().reduce(into: [Int: Int]()) { seen, pair in if seen[pair.element] == nil { seen[pair.element] = pair.offset } }
        let order = firstSeen.sorted { $0.value < $1.value }.map(\.key)
        #expect(order == order.sorted(), "messages arrived out of the order they were sent")
        #expect(consumed.count >= confirmed.count)
    }

    /// With the default 2/2/2 persistence over three bookies, a bookie SIGKILLed during
    /// production costs no receipted message, and publishing goes on.
    @Test func publishingContinuesThroughABookieKill() async throws {
        let cluster = try await BrokerCluster.start(label: "bookie-kill")
        defer { cluster.stop() }
        let topic = "persistent://public/default/bookie-crash"
        let producer = try cluster.keepProducing(topic)
        defer { producer.stop() }
        func receipted() -> [Int] { BrokerCluster.numbers(in: producer.output(), prefix: "R ") }
        try await Self.wait { receipted().count >= 300 }
        // A bookie of the ledger being written, read from the metadata store.
        let victim = try await Self.bookieWriting(topic: "public/default/persistent/bookie-crash", metadataURL: cluster.bookies.metadataURL)
        cluster.bookies.kill(cluster.bookies.ids.firstIndex(of: victim)!)
        let atKill = receipted().count
        try await Self.wait { receipted().count >= atKill + 300 }
        producer.stop()
        let confirmed = Set(receipted())
        let consumed = Set(try await cluster.drain(topic))
        let missing = confirmed.subtracting(consumed)
        #expect(missing.isEmpty, "\(missing.count) receipted messages lost, e.g. \(missing.sorted().prefix(10))")
    }

    /// The first bookie of the ensemble of the topic's current ledger.
    static func bookieWriting(topic: String, metadataURL: String) async throws -> String {
        let ledger = try await Self.currentLedger(topic: topic, metadataURL: metadataURL)
        let ensembles = ledger["ensembles"] as? [[String: Any]] ?? []
        guard let bookie = (ensembles.last?["bookies"] as? [String])?.first else { throw TestHarnessError("no ensemble in \(ledger)") }
        return bookie
    }

    /// The metadata of the topic's current ledger, read with `magnetar metadata get`.
    static func currentLedger(topic: String, metadataURL: String) async throws -> [String: Any] {
        let magnetar = try BuiltProducts.path(of: "magnetar")
        func value(_ key: String) async throws -> [String: Any] {
            let result = try await ChildProcess.run(magnetar, ["metadata", "get", "--metadata-url", metadataURL, key])
            let json = result.output.split(separator: "\n").last.map(String.init) ?? ""
            return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
        }
        let ledgers = try await value("/managed-ledgers/\(topic)")["ledgers"] as? [[String: Any]] ?? []
        guard let current = ledgers.last?["id"] as? Int else { throw TestHarnessError("no ledger for \(topic)") }
        return try await value("/ledgers/\(current)")
    }

    static func wait(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestHarnessError("timed out waiting") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

@Suite("Client features", .timeLimit(.minutes(5)))
struct ClientFeatureTests {
    @Test(arguments: [
        "reader", "reader-batched", "reader-seek", "seek", "seek-batched", "negative-ack", "cumulative", "partitioned",
        "exclusive-producer", "key-shared", "pattern", "failover", "batch-index-ack", "wait-for-exclusive", "exclusive-with-fencing",
        "fenced-stays-fenced", "http-lookup",
    ])
    func feature(_ name: String) async throws {
        let cluster = try await BrokerCluster.start(label: "feature-\(name)")
        defer { cluster.stop() }
        let result = try await cluster.python("features.py", [cluster.serviceURL, "http://127.0.0.1:\(cluster.httpPort)", name])
        #expect(result.status == 0 && result.output.contains("OK \(name)"), "\(result.output.suffix(1500))\nbroker:\n\(cluster.broker.output().suffix(1500))")
    }
}
