import ClusterTesting
import Foundation
import MagnetarVersion
import Testing

/// Runs the built executables as a user would and checks what they print.
@Suite(.timeLimit(.minutes(1)))
struct ExecutableTests {
    static func run(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await ChildProcess.run(try BuiltProducts.path(of: name), arguments)
    }

    @Test(arguments: ["magnetar", "bookie", "broker"])
    func answersVersionAndHelp(executable: String) async throws {
        let version = try await Self.run(executable, ["--version"])
        #expect(version.status == 0)
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == MagnetarVersion.current)
        let help = try await Self.run(executable, ["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("USAGE: \(executable)"))
        let bad = try await Self.run(executable, ["--no-such-flag"])
        #expect(bad.status != 0)
        #expect(bad.output.hasPrefix("Error: "), "a clear error: \(bad.output)")
        #expect(bad.output.contains("Usage: \(executable)"))
    }

    @Test func bookieRefusesAMalformedListenAddress() async throws {
        let bad = try await Self.run(
            "bookie",
            ["--id", "b", "--listen", "nohostport", "--journal-dir", "/tmp/j", "--ledger-dirs", "/tmp/l", "--metadata-url", "memory:"]
        )
        #expect(bad.status != 0)
        #expect(bad.output.contains("listen must be HOST:PORT"))
    }

    @Test func metadataCommandsRoundTripThroughAFile() async throws {
        let directory = try TemporaryDirectory(label: "cli")
        defer { directory.remove() }
        let url = "sqlite:\(directory.file("metadata.db"))"
        let put = try await Self.run("magnetar", ["metadata", "put", "--metadata-url", url, "/tenants/public", #"{"clusters":["standalone"]}"#])
        #expect(put.status == 0 && put.output.hasPrefix("version "))
        let get = try await Self.run("magnetar", ["metadata", "get", "--metadata-url", url, "/tenants/public"])
        #expect(get.status == 0)
        #expect(get.output.contains(#"{"clusters":["standalone"]}"#))
        let list = try await Self.run("magnetar", ["metadata", "ls", "--metadata-url", url, "/"])
        #expect(list.output == "tenants\n")
        let stale = try await Self.run("magnetar", ["metadata", "put", "--metadata-url", url, "--expect-absent", "/tenants/public", "{}"])
        #expect(stale.status != 0)
        #expect(stale.output.contains("already exists"))
        let missing = try await Self.run("magnetar", ["metadata", "get", "--metadata-url", url, "/tenants/none"])
        #expect(missing.status != 0 && missing.output.contains("does not exist"))
        let badURL = try await Self.run("magnetar", ["metadata", "get", "--metadata-url", "zk://x:1", "/a"])
        #expect(badURL.status != 0 && badURL.output.contains("unknown metadata URL"))
    }
}

extension ExecutableTests {
    /// A bookie whose start fails because its metadata store takes connections but never
    /// answers (a paused etcd member) exits with an error, so that a supervisor starts it
    /// again. Before, closing the etcd client waited for ever for the connection to the
    /// silent member to shut down gracefully, and the process never exited.
    @Test func aBookieWhoseMetadataStoreNeverAnswersExits() async throws {
        let directory = try TemporaryDirectory(label: "bookie-start-fails")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let silent = try ChildProcess(
            try PythonClient.interpreter(),
            ["-c", "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', \(port)))\ns.listen(16)\nprint('listening', flush=True)\ntime.sleep(600)"],
            logPath: directory.file("silent.log")
        )
        defer { silent.stop() }
        try await silent.waitForOutput("listening")
        let result = try await ChildProcess.run(
            try BuiltProducts.path(of: "bookie"),
            ["--id", "b", "--listen", "127.0.0.1:0", "--http-port", "0", "--journal-dir", directory.file("journal"),
             "--ledger-dirs", directory.file("ledgers"), "--metadata-url", "etcd://127.0.0.1:\(port)"],
            timeout: .seconds(40)
        )
        #expect(result.status != 0)
        #expect(result.output.contains("etcd did not answer"), "\(result.output.suffix(2000))")
    }
}
