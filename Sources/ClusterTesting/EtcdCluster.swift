import Foundation
import Synchronization

/// A real etcd cluster of several members on loopback, each with its own ports and data
/// directory, for tests that need etcd to survive a member's loss.
///
/// Member `i` (0-based) is named `member-<i+1>` and keeps its ports and data across
/// ``kill(_:)`` and ``restart(_:)``. Its peers reach it at its *advertised* peer port,
/// which is its own peer port unless the caller puts something in between (a proxy that
/// can cut the link): `advertisedPeerPorts` then names the ports the others dial.
public final class EtcdCluster: Sendable {
    private struct Member {
        var clientPort: Int
        var peerPort: Int
        var advertisedPeerPort: Int
        var starts = 0
        var process: ChildProcess?
    }

    public let directory: TemporaryDirectory
    private let members: Mutex<[Member]>

    /// `etcd://127.0.0.1:<client>,…`, every member's client endpoint.
    public var url: String {
        "etcd://" + self.members.withLock { $0.map { "127.0.0.1:\($0.clientPort)" } }.joined(separator: ",")
    }

    public var count: Int { self.members.withLock { $0.count } }
    public func clientPort(_ index: Int) -> Int { self.members.withLock { $0[index].clientPort } }
    public func peerPort(_ index: Int) -> Int { self.members.withLock { $0[index].peerPort } }
    public func isRunning(_ index: Int) -> Bool { self.members.withLock { $0[index].process?.isRunning ?? false } }

    private init(directory: TemporaryDirectory, members: [Member]) {
        self.directory = directory
        self.members = Mutex(members)
    }

    /// Starts `count` members at once (each waits for the others to form a quorum) and
    /// returns once every member accepts client connections and, if `waitForLeader`, the
    /// cluster has a leader. `advertisedPeerPorts`, when given, holds one port per member;
    /// whatever forwards them to ``peerPort(_:)`` must then be started before the cluster
    /// can elect a leader (call ``waitForLeader(timeout:)`` after it).
    public static func start(
        count: Int,
        directory: TemporaryDirectory,
        advertisedPeerPorts: [Int]? = nil,
        waitForLeader: Bool = true,
        timeout: Duration = .seconds(60)
    ) async throws -> EtcdCluster {
        precondition(count >= 1 && (advertisedPeerPorts == nil || advertisedPeerPorts?.count == count))
        var members: [Member] = []
        for index in 0..<count {
            let peerPort = try FreePort.allocate()
            members.append(
                Member(clientPort: try FreePort.allocate(), peerPort: peerPort, advertisedPeerPort: advertisedPeerPorts?[index] ?? peerPort)
            )
        }
        let cluster = EtcdCluster(directory: directory, members: members)
        do {
            for index in 0..<count { try cluster.launch(index) }
            for index in 0..<count { try await cluster.waitUntilAccepting(index, timeout: timeout) }
            if waitForLeader { try await cluster.waitForLeader(timeout: timeout) }
        } catch {
            cluster.stopAll()
            throw error
        }
        return cluster
    }

    /// Kills member `index` with SIGKILL and waits for it to exit.
    public func kill(_ index: Int) {
        self.members.withLock { $0[index].process }?.stop()
    }

    /// Freezes member `index` (SIGSTOP) until ``resume(_:)``.
    public func pause(_ index: Int) {
        self.members.withLock { $0[index].process }?.kill(SIGSTOP)
    }

    /// Lets a paused member run again (SIGCONT).
    public func resume(_ index: Int) {
        self.members.withLock { $0[index].process }?.kill(SIGCONT)
    }

    /// Starts stopped member `index` again on its ports and data; waits until it accepts
    /// client connections.
    public func restart(_ index: Int, timeout: Duration = .seconds(30)) async throws {
        while FreePort.isAccepting(self.clientPort(index)) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try self.launch(index)
        try await self.waitUntilAccepting(index, timeout: timeout)
    }

    /// Kills every member; the directory is its owner's to remove.
    public func stopAll() {
        for process in self.members.withLock({ $0.compactMap(\.process) }) {
            process.kill(SIGCONT)
            process.stop()
        }
    }

    /// Waits until some member reports a leader (`etcdctl endpoint status`).
    public func waitForLeader(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let endpoints = self.members.withLock { $0.map { "http://127.0.0.1:\($0.clientPort)" } }.joined(separator: ",")
        while true {
            let status = try await ChildProcess.run("etcdctl", ["--endpoints", endpoints, "--command-timeout=2s", "endpoint", "status", "-w", "json"], timeout: .seconds(10))
            let json = status.output.split(separator: "\n").first { $0.hasPrefix("[") }.map(String.init) ?? ""
            if let data = json.data(using: .utf8),
                let rows = try? JSONSerialization.jsonObject(with: Data(data)) as? [[String: Any]],
                rows.contains(where: { (($0["Status"] as? [String: Any])?["leader"] as? NSNumber)?.uint64Value ?? 0 != 0 })
            {
                return
            }
            guard ContinuousClock.now < deadline else { throw TestHarnessError("the etcd cluster has no leader within \(timeout): \(status.output)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func launch(_ index: Int) throws {
        try self.members.withLock { members in
            if let running = members[index].process, running.isRunning {
                throw TestHarnessError("etcd member-\(index + 1) is already running (pid \(running.pid))")
            }
            let cluster = members.indices.map { "member-\($0 + 1)=http://127.0.0.1:\(members[$0].advertisedPeerPort)" }.joined(separator: ",")
            let member = members[index]
            let client = "http://127.0.0.1:\(member.clientPort)"
            members[index].starts += 1
            members[index].process = try ChildProcess(
                "etcd",
                [
                    "--name", "member-\(index + 1)",
                    "--data-dir", self.directory.file("member-\(index + 1)"),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)",
                    "--initial-advertise-peer-urls", "http://127.0.0.1:\(member.advertisedPeerPort)",
                    "--initial-cluster", cluster, "--initial-cluster-state", "new",
                    "--initial-cluster-token", "magnetar-test",
                    "--heartbeat-interval", "100", "--election-timeout", "1000",
                    "--log-level", "warn",
                ],
                logPath: self.directory.file("member-\(index + 1)-\(members[index].starts).log")
            )
        }
    }

    private func waitUntilAccepting(_ index: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let (port, process) = self.members.withLock { ($0[index].clientPort, $0[index].process) }
        while !FreePort.isAccepting(port) {
            guard let process, process.isRunning else {
                throw TestHarnessError("etcd member-\(index + 1) exited at start; log:\n\(process?.output() ?? "")")
            }
            guard ContinuousClock.now < deadline else {
                throw TestHarnessError("etcd member-\(index + 1) did not open port \(port) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
