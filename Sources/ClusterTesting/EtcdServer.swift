import Foundation
import Synchronization

/// A real single-member `etcd` on free loopback ports with a temporary data directory.
///
/// Tests that run against etcd start one of these; when `etcd` is not installed, starting
/// fails with an error that says so (the suite does not skip).
public final class EtcdServer: Sendable {
    public let clientPort: Int
    public let peerPort: Int
    public let directory: TemporaryDirectory
    private let process: Mutex<ChildProcess>

    /// `etcd://127.0.0.1:<clientPort>`.
    public var url: String { "etcd://127.0.0.1:\(self.clientPort)" }

    private init(clientPort: Int, peerPort: Int, directory: TemporaryDirectory) throws {
        self.clientPort = clientPort
        self.peerPort = peerPort
        self.directory = directory
        directory.removeAtExit()
        self.process = Mutex(try Self.launch(clientPort: clientPort, peerPort: peerPort, directory: directory))
    }

    /// Starts etcd and waits until it accepts client connections.
    public static func start(timeout: Duration = .seconds(30)) async throws -> EtcdServer {
        var lastError: (any Error)?
        for _ in 0..<3 {  // A free port can be taken by someone else before etcd binds it.
            let server = try EtcdServer(
                clientPort: try FreePort.allocate(),
                peerPort: try FreePort.allocate(),
                directory: try TemporaryDirectory(label: "etcd")
            )
            do {
                try await server.waitUntilReady(timeout: timeout)
                return server
            } catch {
                lastError = error
                server.stop()
            }
        }
        throw lastError ?? TestHarnessError("etcd did not start")
    }

    /// Kills etcd with SIGKILL and starts it again on the same ports and data.
    public func restart(timeout: Duration = .seconds(30)) async throws {
        let old = self.process.withLock { $0 }
        old.stop()
        while FreePort.isAccepting(self.clientPort) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let new = try Self.launch(clientPort: self.clientPort, peerPort: self.peerPort, directory: self.directory)
        self.process.withLock { $0 = new }
        try await self.waitUntilReady(timeout: timeout)
    }

    /// Kills etcd and removes its data.
    public func stop() {
        self.process.withLock { $0 }.stop()
        self.directory.remove()
    }

    private static func launch(clientPort: Int, peerPort: Int, directory: TemporaryDirectory) throws -> ChildProcess {
        let client = "http://127.0.0.1:\(clientPort)"
        let peer = "http://127.0.0.1:\(peerPort)"
        return try ChildProcess(
            "etcd",
            [
                "--name", "magnetar-test",
                "--data-dir", directory.file("data"),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "magnetar-test=\(peer)",
                "--log-level", "warn",
            ],
            logPath: directory.file("etcd.log")
        )
    }

    private func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        let process = self.process.withLock { $0 }
        while !FreePort.isAccepting(self.clientPort) {
            guard process.isRunning else {
                throw TestHarnessError("etcd exited at start; log:\n\(process.output())")
            }
            guard ContinuousClock.now < deadline else {
                throw TestHarnessError("etcd did not open port \(self.clientPort) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
