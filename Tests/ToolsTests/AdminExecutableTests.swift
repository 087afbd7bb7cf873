import ClusterTesting
import Foundation
import Testing

/// The built `magnetar admin` run as a user would, without a cluster: exit statuses,
/// contexts in a configuration file, and shell completion.
@Suite(.timeLimit(.minutes(1)))
struct AdminExecutableTests {
    /// Runs `magnetar arguments…` with `MAGNETAR_CONFIG` set to `config` (when given).
    static func run(_ arguments: [String], config: String? = nil) async throws -> (status: Int32, output: String) {
        guard let config else { return try await ChildProcess.run(try BuiltProducts.path(of: "magnetar"), arguments) }
        let directory = try TemporaryDirectory(label: "admin-run")
        defer { directory.remove() }
        var environment = ProcessInfo.processInfo.environment
        environment["MAGNETAR_CONFIG"] = config
        let child = try ChildProcess(try BuiltProducts.path(of: "magnetar"), arguments, logPath: directory.file("output.log"), environment: environment)
        let status = try await child.waitForExit(timeout: .seconds(30))
        return (status, child.output())
    }

    @Test func exitStatusesForUsageAndUnreachableServers() async throws {
        let missing = try await Self.run(["admin", "topics", "create-partitioned-topic", "t"])
        #expect(missing.status == 2, "\(missing.output)")
        #expect(missing.output.contains("Error: ") && missing.output.contains("--partitions"))
        let badName = try await Self.run(["admin", "topics", "stats", "ns/t"])
        #expect(badName.status == 2 && badName.output.contains("is not a topic"), "\(badName.output)")
        let badURL = try await Self.run(["admin", "clusters", "list", "--admin-url", "ftp://x"])
        #expect(badURL.status == 2, "\(badURL.output)")

        let port = try FreePort.allocate()
        let started = ContinuousClock.now
        let closed = try await Self.run(["admin", "clusters", "list", "--admin-url", "http://127.0.0.1:\(port)"])
        #expect(closed.status == 3, "\(closed.output)")
        #expect(closed.output.hasPrefix("Error: ") && closed.output.contains("127.0.0.1:\(port)"), "\(closed.output)")
        #expect(ContinuousClock.now - started < .seconds(10))
        // pulsar-admin's habit: the connection options before the command.
        let before = try await Self.run(["admin", "--admin-url", "http://127.0.0.1:\(port)", "-o", "json", "clusters", "list"])
        #expect(before.status == 3 && before.output.contains("127.0.0.1:\(port)"), "\(before.output)")
        let equals = try await Self.run(["admin", "--admin-url=http://127.0.0.1:\(port)", "tenants", "list"])
        #expect(equals.status == 3, "\(equals.output)")

        let help = try await Self.run(["admin", "--help"])
        #expect(help.status == 0 && help.output.contains("namespaces") && help.output.contains("topics"))
    }

    @Test func contextsChooseTheAdminURL() async throws {
        let directory = try TemporaryDirectory(label: "admin-contexts")
        defer { directory.remove() }
        let config = directory.file("config/magnetar.json")
        let none = try await Self.run(["admin", "context", "current"], config: config)
        #expect(none.status == 1 && none.output.contains("no context is current"), "\(none.output)")

        let port = try FreePort.allocate()
        #expect(try await Self.run(["admin", "context", "set", "prod", "--admin-url", "http://127.0.0.1:\(port)"], config: config).status == 0)
        #expect(try await Self.run(["admin", "context", "set", "dev", "--admin-url", "http://127.0.0.1:1"], config: config).status == 0)
        #expect(try await Self.run(["admin", "context", "current"], config: config).output == "prod\n")
        let list = try await Self.run(["admin", "context", "list"], config: config)
        #expect(list.output == "  dev\thttp://127.0.0.1:1\n* prod\thttp://127.0.0.1:\(port)\n", "\(list.output)")
        #expect(try await Self.run(["admin", "context", "use", "dev"], config: config).status == 0)
        #expect(try await Self.run(["admin", "context", "current"], config: config).output == "dev\n")
        let unknown = try await Self.run(["admin", "context", "use", "staging"], config: config)
        #expect(unknown.status == 1 && unknown.output.contains("no context 'staging'"))

        // The chosen context's URL is where requests go (both closed ports: exit 3 naming it).
        let viaCurrent = try await Self.run(["admin", "clusters", "list"], config: config)
        #expect(viaCurrent.status == 3 && viaCurrent.output.contains("127.0.0.1:1"), "\(viaCurrent.output)")
        let viaFlag = try await Self.run(["admin", "clusters", "list", "--context", "prod"], config: config)
        #expect(viaFlag.status == 3 && viaFlag.output.contains("127.0.0.1:\(port)"), "\(viaFlag.output)")

        #expect(try await Self.run(["admin", "context", "delete", "dev"], config: config).status == 0)
        #expect(try await Self.run(["admin", "context", "current"], config: config).status == 1)
        let file = try String(contentsOfFile: config, encoding: .utf8)
        #expect(file.contains("prod") && !file.contains("dev"), "\(file)")
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptsKnowTheAdminCommands(shell: String) async throws {
        let script = try await Self.run(["--generate-completion-script", shell])
        #expect(script.status == 0)
        #expect(script.output.contains("admin") && script.output.contains("set-retention"), "\(script.output.prefix(500))")
    }
}
