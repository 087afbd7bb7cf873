import ClusterTesting
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The cluster the fault suite runs: three etcd members, four bookies (each on its own
/// small tmpfs, so that its disk can fill), three brokers; and the link proxies that make
/// partitions.
///
/// Partitions: every broker reaches etcd through its own proxy process (one listener per
/// etcd member), and every etcd member's peers reach it through its proxy; a proxy cut by
/// SIGUSR1 moves no byte on any of its links, open or new, until SIGUSR2 (see
/// `Scripts/link_proxy.py`). So "broker ⟂ etcd" isolates a broker from the metadata store
/// (its session expires while it still talks to bookies and clients) and "etcd member ⟂
/// peers" cuts the raft traffic towards one member. Links to bookies are not proxied:
/// bookies register the address they listen on, which every broker dials.
final class FaultCluster: Sendable {
    struct Settings: Sendable {
        var shape = ClusterShape(brokers: 3, bookies: 4, etcdMembers: 3)
        /// Metadata session TTL of brokers and bookies, in seconds.
        var sessionTTLSeconds = 2
        /// Size of each bookie's tmpfs.
        var bookieDiskMegabytes = 384
        var maxEntriesPerLedger = 200
        /// Journal fsync delay while a bookie's fsync is slowed.
        var slowSyncMilliseconds = 150
    }

    private struct BrokerSlot {
        var port: Int
        var httpPort: Int
        var starts = 0
        var process: ChildProcess?
    }

    let settings: Settings
    let directory: TemporaryDirectory
    let etcd: EtcdCluster
    let bookies: BookieCluster
    let disks: [SmallDisk]
    /// One per etcd member: its peers' links to it.
    let etcdPeerProxies: [ChildProcess]
    /// One per broker: its links to every etcd member.
    let brokerProxies: [ChildProcess]
    private let brokerEtcdPorts: [[Int]]
    private let brokers: Mutex<[BrokerSlot]>

    private init(
        settings: Settings, directory: TemporaryDirectory, etcd: EtcdCluster, bookies: BookieCluster, disks: [SmallDisk],
        etcdPeerProxies: [ChildProcess], brokerProxies: [ChildProcess], brokerEtcdPorts: [[Int]], brokers: [BrokerSlot]
    ) {
        self.settings = settings
        self.directory = directory
        self.etcd = etcd
        self.bookies = bookies
        self.disks = disks
        self.etcdPeerProxies = etcdPeerProxies
        self.brokerProxies = brokerProxies
        self.brokerEtcdPorts = brokerEtcdPorts
        self.brokers = Mutex(brokers)
    }

    /// Starts everything; on failure stops what was started and throws.
    static func start(settings: Settings = Settings()) async throws -> FaultCluster {
        let directory = try TemporaryDirectory(label: "faults")
        var proxies: [ChildProcess] = []
        var disks: [SmallDisk] = []
        var etcd: EtcdCluster?
        var bookies: BookieCluster?
        func undo() async {
            bookies?.stopAll()
            etcd?.stopAll()
            for proxy in proxies { proxy.stop() }
            for disk in disks { await disk.unmount() }
            directory.remove()
        }
        do {
            let shape = settings.shape
            let advertised = try (0..<shape.etcdMembers).map { _ in try FreePort.allocate() }
            etcd = try await EtcdCluster.start(
                count: shape.etcdMembers, directory: directory, advertisedPeerPorts: advertised, waitForLeader: false
            )
            guard let etcd else { throw TestHarnessError("no etcd") }
            let etcdPeerProxies = try (0..<shape.etcdMembers).map { index in
                try Self.proxy([(advertised[index], etcd.peerPort(index))], log: directory.file("etcd-proxy-\(index + 1).log"))
            }
            proxies += etcdPeerProxies
            for proxy in etcdPeerProxies { try await proxy.waitForOutput("proxy ready") }
            try await etcd.waitForLeader(timeout: .seconds(60))
            for index in 0..<shape.bookies {
                disks.append(try await SmallDisk.mount(at: directory.file("bookie-\(index + 1)"), megabytes: settings.bookieDiskMegabytes))
            }
            bookies = try await BookieCluster.start(
                count: shape.bookies, directory: directory, metadataURL: etcd.url, journalSync: true,
                extraArguments: ["--session-ttl-seconds", "\(settings.sessionTTLSeconds)"]
            )
            guard let bookies else { throw TestHarnessError("no bookies") }
            var brokerEtcdPorts: [[Int]] = []
            var brokerProxies: [ChildProcess] = []
            var slots: [BrokerSlot] = []
            for index in 0..<shape.brokers {
                let ports = try (0..<shape.etcdMembers).map { _ in try FreePort.allocate() }
                let proxy = try Self.proxy(
                    (0..<shape.etcdMembers).map { (ports[$0], etcd.clientPort($0)) }, log: directory.file("broker-proxy-\(index + 1).log")
                )
                proxies.append(proxy)
                try await proxy.waitForOutput("proxy ready")
                brokerProxies.append(proxy)
                brokerEtcdPorts.append(ports)
                slots.append(BrokerSlot(port: try FreePort.allocate(), httpPort: try FreePort.allocate()))
            }
            let cluster = FaultCluster(
                settings: settings, directory: directory, etcd: etcd, bookies: bookies, disks: disks,
                etcdPeerProxies: etcdPeerProxies, brokerProxies: brokerProxies, brokerEtcdPorts: brokerEtcdPorts, brokers: slots
            )
            do {
                for index in 0..<shape.brokers { try await cluster.startBroker(index) }
            } catch {
                for index in 0..<shape.brokers { cluster.brokerProcess(index)?.stop() }
                throw error
            }
            return cluster
        } catch {
            await undo()
            throw error
        }
    }

    private static func proxy(_ links: [(Int, Int)], log: String) throws -> ChildProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/link_proxy.py").path
        return try ChildProcess(try PythonClient.interpreter(), [script] + links.map { "\($0.0):\($0.1)" }, logPath: log)
    }

    // MARK: Brokers

    /// Every broker's address in one service URL.
    var serviceURL: String {
        "pulsar://" + self.brokers.withLock { $0.map { "127.0.0.1:\($0.port)" } }.joined(separator: ",")
    }

    func brokerProcess(_ index: Int) -> ChildProcess? { self.brokers.withLock { $0[index].process } }
    func isBrokerRunning(_ index: Int) -> Bool { self.brokerProcess(index)?.isRunning ?? false }

    /// Starts stopped broker `index` on its ports and waits until it serves.
    func startBroker(_ index: Int) async throws {
        let broker = try BuiltProducts.path(of: "broker")
        let metadataURL = "etcd://" + self.brokerEtcdPorts[index].map { "127.0.0.1:\($0)" }.joined(separator: ",")
        let ttl = "\(self.settings.sessionTTLSeconds)"
        let process = try self.brokers.withLock { slots in
            if let running = slots[index].process, running.isRunning {
                throw TestHarnessError("broker-\(index + 1) is already running")
            }
            let slot = slots[index]
            slots[index].starts += 1
            let process = try ChildProcess(
                broker,
                [
                    "--metadata-url", metadataURL, "--listen", "127.0.0.1:\(slot.port)", "--http-port", "\(slot.httpPort)",
                    "--ensemble-size", "3", "--write-quorum", "2", "--ack-quorum", "2", "--session-ttl-seconds", ttl,
                    "--max-entries-per-ledger", "\(self.settings.maxEntriesPerLedger)",
                    "--load-report-interval-seconds", "2", "--load-shedding-interval-seconds", "10",
                    "--default-retention-time-minutes=-1", "--default-retention-size-mb=-1",
                ],
                logPath: self.directory.file("broker-\(index + 1)-\(slots[index].starts).log")
            )
            slots[index].process = process
            return process
        }
        do {
            try await process.waitForOutput("broker serving", timeout: .seconds(60))
        } catch {
            process.stop()
            throw error
        }
    }

    /// A request to broker `index`'s REST API; the status and body.
    func request(_ method: String, broker index: Int, _ path: String, body: String? = nil) async throws -> (status: Int, body: String) {
        let port = self.brokers.withLock { $0[index].httpPort }
        return try await RESTRequest.send(method, "http://127.0.0.1:\(port)\(path)", body: body)
    }

    // MARK: Teardown

    /// Stops every process (resuming paused ones first), unmounts the disks and, unless
    /// `keep`, removes the directory.
    func stop(keep: Bool = false) async {
        for index in 0..<self.settings.shape.brokers {
            self.brokerProcess(index)?.kill(SIGCONT)
            self.brokerProcess(index)?.stop()
        }
        for index in 0..<self.settings.shape.bookies { self.bookies.resume(index) }
        self.bookies.stopAll()
        self.etcd.stopAll()
        for proxy in self.etcdPeerProxies + self.brokerProxies { proxy.stop() }
        for disk in self.disks { await disk.unmount() }
        if !keep { self.directory.remove() }
    }
}
