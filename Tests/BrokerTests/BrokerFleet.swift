import ClusterTesting
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where a fleet's processes keep their metadata.
enum FleetMetadata: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, etcd
    var testDescription: String { self.rawValue }
}

/// Several real brokers over three real bookies and one metadata store (a SQLite file, or
/// a real etcd), for the cluster tests. Broker `i` keeps its two ports across restarts;
/// each start logs to `broker-<i+1>-<n>.log`.
final class BrokerFleet: Sendable {
    private struct Slot {
        var port: Int
        var httpPort: Int
        var starts = 0
        var process: ChildProcess?
    }

    let directory: TemporaryDirectory
    let etcd: EtcdServer?
    let bookies: BookieCluster
    let brokerArguments: [String]
    private let slots = Mutex<[Slot]>([])

    var metadataURL: String { self.bookies.metadataURL }

    private init(directory: TemporaryDirectory, etcd: EtcdServer?, bookies: BookieCluster, brokerArguments: [String]) {
        self.directory = directory
        self.etcd = etcd
        self.bookies = bookies
        self.brokerArguments = brokerArguments
    }

    /// Starts the store, three bookies and `brokers` brokers (each with `arguments`).
    static func start(label: String, metadata: FleetMetadata, brokers: Int, arguments: [String] = []) async throws -> BrokerFleet {
        let directory = try TemporaryDirectory(label: label)
        let etcd = metadata == .etcd ? try await EtcdServer.start() : nil
        let bookies: BookieCluster
        do {
            bookies = try await BookieCluster.start(count: 3, directory: directory, metadataURL: etcd?.url, journalSync: false)
        } catch {
            etcd?.stop()
            throw error
        }
        let fleet = BrokerFleet(directory: directory, etcd: etcd, bookies: bookies, brokerArguments: arguments)
        do {
            for _ in 0..<brokers { _ = try await fleet.addBroker() }
        } catch {
            fleet.stop()
            throw error
        }
        return fleet
    }

    /// Starts one more broker; returns its index.
    func addBroker() async throws -> Int {
        let index = try self.slots.withLock { slots in
            slots.append(Slot(port: try FreePort.allocate(), httpPort: try FreePort.allocate()))
            return slots.count - 1
        }
        try await self.start(index)
        return index
    }

    /// Starts stopped broker `index` again on its ports and waits until it serves.
    func start(_ index: Int) async throws {
        let broker = try BuiltProducts.path(of: "broker")
        let process = try self.slots.withLock { slots in
            let slot = slots[index]
            slots[index].starts += 1
            let process = try ChildProcess(
                broker,
                ["--metadata-url", self.metadataURL, "--listen", "127.0.0.1:\(slot.port)", "--http-port", "\(slot.httpPort)"]
                    + BrokerCluster.keepEverything + self.brokerArguments,
                logPath: self.directory.file("broker-\(index + 1)-\(slot.starts + 1).log")
            )
            slots[index].process = process
            return process
        }
        do {
            try await process.waitForOutput("broker serving")
        } catch {
            process.stop()
            throw error
        }
    }

    var count: Int { self.slots.withLock { $0.count } }
    func port(_ index: Int) -> Int { self.slots.withLock { $0[index].port } }
    func httpPort(_ index: Int) -> Int { self.slots.withLock { $0[index].httpPort } }
    func process(_ index: Int) -> ChildProcess? { self.slots.withLock { $0[index].process } }
    /// `pulsar://127.0.0.1:<port>` of broker `index`.
    func serviceURL(_ index: Int) -> String { "pulsar://127.0.0.1:\(self.port(index))" }
    /// Every broker's address in one service URL, as clients of a cluster are given.
    var serviceURL: String { "pulsar://" + (0..<self.count).map { "127.0.0.1:\(self.port($0))" }.joined(separator: ",") }
    /// Broker `index`'s id, `host:http-port`.
    func brokerID(_ index: Int) -> String { "127.0.0.1:\(self.httpPort(index))" }
    /// The index of the broker whose service URL is `url`.
    func index(ofServiceURL url: String) -> Int? { (0..<self.count).first { self.serviceURL($0) == url } }

    func kill(_ index: Int) { self.process(index)?.stop() }
    func pause(_ index: Int) { self.process(index)?.kill(SIGSTOP) }
    func resume(_ index: Int) { self.process(index)?.kill(SIGCONT) }

    /// A GET to broker `index`'s REST API (redirects followed); the status and body.
    func get(_ index: Int, _ path: String) async throws -> (status: Int, body: String) {
        try await self.request("GET", index, path)
    }

    func request(_ method: String, _ index: Int, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
        try await RESTRequest.send(method, "http://127.0.0.1:\(self.httpPort(index))\(path)", body: body)
    }

    /// The broker serving `topic` (a local name in public/default) as broker `index` answers
    /// an HTTP lookup; retried while the answer is "retry" (503).
    func owner(of topic: String, asking index: Int) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (status, body) = try await self.get(index, "/lookup/v2/topic/persistent/public/default/\(topic)")
            if status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let url = object["brokerUrl"] as? String, let owner = self.index(ofServiceURL: url)
            {
                return owner
            }
            guard ContinuousClock.now < deadline else { throw TestHarnessError("lookup of \(topic) at broker \(index): \(status) \(body)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The bundles broker `index` says it owns.
    func ownedBundles(_ index: Int) async throws -> Set<String> {
        let (status, body) = try await self.get(index, "/admin/v2/brokers/standalone/\(self.brokerID(index))/ownedNamespaces")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw TestHarnessError("ownedNamespaces of broker \(index): \(status) \(body)")
        }
        return Set(object.keys)
    }

    /// Runs a script of `Scripts/` to completion with the Pulsar client's Python.
    func python(_ script: String, _ arguments: [String], timeout: Duration = .seconds(180)) async throws -> (status: Int32, output: String) {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        return try await ChildProcess.run(try PythonClient.interpreter(), [scripts.appendingPathComponent(script).path] + arguments, timeout: timeout)
    }

    /// Starts a script of `Scripts/` in the background, logging to `<log>.log`.
    func background(_ script: String, _ arguments: [String], log: String) throws -> ChildProcess {
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        return try ChildProcess(
            try PythonClient.interpreter(), [scripts.appendingPathComponent(script).path] + arguments, logPath: self.directory.file("\(log).log")
        )
    }

    /// Prints the end of `client`'s output and of every broker's log (for a failed check).
    func printLogs(_ client: ChildProcess) {
        print("--- \(client.logPath):\n\(client.output().suffix(3000))")
        for index in 0..<self.count {
            guard let log = self.process(index)?.logPath, let text = try? String(contentsOfFile: log, encoding: .utf8) else { continue }
            print("--- broker \(index) (\(log)):\n\(text.suffix(4000))")
        }
    }

    func stop() {
        for index in 0..<self.count { self.process(index)?.stop() }
        self.bookies.stopAll()
        self.etcd?.stop()
        self.directory.remove()
    }
}
