import ClusterTesting
import Foundation
import MagnetarClient
import MagnetarHTTPClient
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Three real bookies and one real broker on loopback, for the client's tests. The
/// broker keeps its ports across ``restartBroker()``. Processes die with the test process.
final class ClientCluster: Sendable {
    let directory: TemporaryDirectory
    let bookies: BookieCluster
    let port: Int
    let httpPort: Int
    private let broker: Mutex<(process: ChildProcess?, starts: Int)>

    var serviceURL: String { "pulsar://127.0.0.1:\(self.port)" }

    private init(directory: TemporaryDirectory, bookies: BookieCluster, port: Int, httpPort: Int) {
        self.directory = directory
        self.bookies = bookies
        self.port = port
        self.httpPort = httpPort
        self.broker = Mutex((nil, 0))
    }

    static func start(label: String) async throws -> ClientCluster {
        let directory = try TemporaryDirectory(label: label)
        directory.removeAtExit()
        let bookies = try await BookieCluster.start(count: 3, directory: directory, journalSync: false)
        let cluster = ClientCluster(directory: directory, bookies: bookies, port: try FreePort.allocate(), httpPort: try FreePort.allocate())
        try await cluster.startBroker()
        return cluster
    }

    /// Starts the broker on the cluster's ports and waits until it serves.
    func startBroker() async throws {
        let process = try self.broker.withLock { broker in
            broker.starts += 1
            let process = try self.launchBroker(port: self.port, httpPort: self.httpPort, log: "broker-\(broker.starts).log")
            broker.process = process
            return process
        }
        try await process.waitForOutput("broker serving", timeout: .seconds(60))
    }

    /// Kills the broker with SIGKILL.
    func killBroker() {
        self.broker.withLock { $0.process }?.stop()
    }

    func brokerLog() -> String {
        self.broker.withLock { $0.process }?.output().suffix(4000).description ?? ""
    }

    func client() throws -> PulsarClient {
        var configuration = PulsarClient.Configuration(serviceURL: try ServiceURL(parsing: self.serviceURL))
        configuration.operationTimeout = .seconds(20)
        configuration.backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(1))
        return PulsarClient(configuration: configuration)
    }

    /// Creates a partitioned topic through the admin REST API.
    func createPartitionedTopic(_ local: String, partitions: Int) async throws {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(self.httpPort)/admin/v2/persistent/public/default/\(local)/partitions")!)
        request.httpMethod = "PUT"
        request.httpBody = Data("\(partitions)".utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else { throw TestHarnessError("creating \(local): \(status) \(String(decoding: data, as: UTF8.self))") }
    }

    /// Sends an admin request to the broker and returns its status and body.
    func admin(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.request(
            method, "http://127.0.0.1:\(self.httpPort)\(path)", body: body.map { Array($0.utf8) },
            headers: body == nil ? [] : [("Content-Type", "application/json")]
        )
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    /// Starts one more broker on the cluster's metadata and bookies, on ports of its own;
    /// it dies with the test process.
    func startAnotherBroker() async throws -> (process: ChildProcess, port: Int, httpPort: Int) {
        let (port, httpPort) = (try FreePort.allocate(), try FreePort.allocate())
        let process = try self.launchBroker(port: port, httpPort: httpPort, log: "broker-\(port).log")
        try await process.waitForOutput("broker serving", timeout: .seconds(60))
        return (process, port, httpPort)
    }

    /// A broker process on the cluster's metadata and bookies, listening on `port` and `httpPort`.
    private func launchBroker(port: Int, httpPort: Int, log: String) throws -> ChildProcess {
        try ChildProcess(
            try BuiltProducts.path(of: "broker"),
            ["--metadata-url", self.bookies.metadataURL, "--listen", "127.0.0.1:\(port)", "--http-port", "\(httpPort)"],
            logPath: self.directory.file(log)
        )
    }

    /// Runs a script of `Scripts/` with the Python Pulsar client.
    func python(_ script: String, _ arguments: [String], timeout: Duration = .seconds(90)) async throws -> (status: Int32, output: String) {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        return try await ChildProcess.run(try PythonClient.interpreter(), [scripts.appendingPathComponent(script).path] + arguments, timeout: timeout)
    }

    /// The records a `consume.py` run printed.
    static func records(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("M ") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(2).utf8)) as? [String: Any]
        }
    }
}

/// The cluster most client tests share, started on first use.
enum SharedCluster {
    private static let task = Mutex<Task<ClientCluster, any Error>?>(nil)

    static func get() async throws -> ClientCluster {
        let task = Self.task.withLock { task in
            if let task { return task }
            let started = Task { try await ClientCluster.start(label: "client") }
            task = started
            return started
        }
        return try await task.value
    }
}

/// A topic name no other test uses.
func uniqueTopic(_ label: String) -> String {
    "persistent://public/default/\(label)-\(UInt32.random(in: 0...UInt32.max))"
}
