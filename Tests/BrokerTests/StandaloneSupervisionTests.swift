import ClusterTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

/// How `magnetar standalone` looks after its children when they cannot run, and when it
/// is itself killed.
@Suite("magnetar standalone supervision", .timeLimit(.minutes(3)))
struct StandaloneSupervisionTests {
    /// Every port the cluster wants is taken: the children fail at once, the supervisor
    /// backs off, gives up with a message naming the conflict, and the data directory does
    /// not grow with each attempt.
    @Test func takenPortsEndTheClusterWithoutFillingTheDisk() async throws {
        let directory = try TemporaryDirectory(label: "standalone-taken")
        defer { directory.remove() }
        // Hold the broker's port and three consecutive bookie ports.
        var holders: [any Channel] = []
        defer { for holder in holders { try? holder.close().wait() } }
        let bind: (Int) async -> (any Channel)? = { port in
            try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: port).get()
        }
        let brokerPort = try FreePort.allocate()
        holders.append(try #require(await bind(brokerPort)))
        var bookiePort = 0
        for _ in 0..<20 where bookiePort == 0 {
            let base = try FreePort.allocate()
            var held: [any Channel] = []
            for port in base..<(base + 3) { if let channel = await bind(port) { held.append(channel) } }
            if held.count == 3 {
                bookiePort = base
                holders += held
            } else {
                for channel in held { try? await channel.close() }
            }
        }
        try #require(bookiePort != 0, "found three consecutive free ports")
        let arguments = [
            "standalone", "--data-dir", directory.file("data"), "--port", "\(brokerPort)", "--http-port", "\(try FreePort.allocate())",
            "--bookie-port", "\(bookiePort)",
        ]
        let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), arguments, logPath: directory.file("standalone.log"))
        defer { cluster.stop() }
        try await cluster.waitForOutput("exited", timeout: .seconds(30))
        let early = Self.diskUsage(directory.file("data"))
        let status = try? await cluster.waitForExit(timeout: .seconds(90))
        let late = Self.diskUsage(directory.file("data"))
        let output = cluster.output()
        #expect(status != nil && status != 0, "the supervisor gave up and exited with an error; it printed:\n\(output.suffix(3000))")
        #expect(output.contains("giving up"), "\(output.suffix(3000))")
        #expect(output.contains("Address already in use"), "the conflict is named: \(output.suffix(3000))")
        #expect(late - early < 1 << 20, "the data directory grew by \(late - early) bytes while children failed to start")
    }

    /// SIGKILL to the supervisor takes its children with it, so none keeps the ports.
    @Test func childrenDieWithAKilledSupervisor() async throws {
        let directory = try TemporaryDirectory(label: "standalone-orphans")
        defer { directory.remove() }
        let setup = try StandaloneTests.Setup(directory)
        let cluster = try ChildProcess(try BuiltProducts.path(of: "magnetar"), setup.arguments, logPath: directory.file("standalone.log"))
        defer { cluster.stop() }
        try await cluster.waitForOutput("Ctrl-C stops the cluster")
        try await StandaloneTests.waitForBroker(directory.file("data/broker.log"), round: 0)
        let children = ["127.0.0.1:\(setup.port)", "127.0.0.1:\(setup.bookiePort)"].compactMap(StandaloneTests.process(with:))
        #expect(children.count == 2, "found the broker and the first bookie")
        cluster.kill(SIGKILL)
        _ = try await cluster.waitForExit(timeout: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(20)
        var alive = children
        while !alive.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            alive = alive.filter { kill($0, 0) == 0 && !Self.isZombie($0) }
        }
        #expect(alive.isEmpty, "children still running after their supervisor was killed: \(alive)")
        for pid in alive { kill(pid, SIGKILL) }
    }

    /// Bytes of disk the files under `path` occupy (allocated blocks, so preallocated
    /// journal files count in full).
    static func diskUsage(_ path: String) -> Int {
        var total = 0
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        for case let name as String in walker {
            var info = stat()
            if lstat((path as NSString).appendingPathComponent(name), &info) == 0 { total += Int(info.st_blocks) * 512 }
        }
        return total
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return status.split(separator: ")").last?.split(separator: " ").first == "Z"
    }
}
