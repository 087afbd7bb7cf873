import ArgumentParser
import Foundation
import Settings

extension Magnetar {
    struct Standalone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a one-host cluster: bookies and brokers sharing a SQLite metadata file.",
            discussion: """
                The bookies and the brokers run as child processes; one that dies is started again. \
                With --brokers N, broker i serves on port+i-1 and http-port+i-1; clients may \
                connect to any of them and are sent to the broker that owns their topic. \
                Ctrl-C or SIGTERM stops them all cleanly. Starting again on the same data \
                directory serves the same topics and messages.
                """
        )

        @Option(help: "Directory for metadata and bookie data.")
        var dataDir = "data"

        @Option(help: "Number of bookie processes.")
        var bookies = 3

        @Option(help: "Number of broker processes.")
        var brokers = 1

        @Option(help: "Port of the Pulsar protocol.")
        var port = 6650

        @Option(help: "Port of the REST API.")
        var httpPort = 8080

        @Option(help: "First bookie port; bookie i listens on this plus i.")
        var bookiePort = 3181

        func run() async throws {
            guard self.bookies >= 1 else { throw ValidationError("--bookies must be at least 1") }
            guard (1...64).contains(self.brokers) else { throw ValidationError("--brokers must be between 1 and 64") }
            guard self.port + self.brokers - 1 <= 65_535, self.httpPort + self.brokers - 1 <= 65_535 else {
                throw ValidationError("the brokers' ports run past 65535")
            }
            let directory = URL(fileURLWithPath: self.dataDir).standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            for executable in ["bookie", "broker"] where !FileManager.default.isExecutableFile(atPath: "\(binaries)/\(executable)") {
                throw ValidationError("no \(executable) executable beside magnetar in \(binaries): build every product first (swift build -c release)")
            }
            let metadata = "sqlite:\(directory)/metadata.db"
            // Two bookies per ledger when there are three or more, so one can die without
            // stopping writes; fewer bookies, fewer copies.
            let copies = min(2, self.bookies)
            var children: [Supervised] = (1...self.bookies).map { index in
                Supervised(
                    name: "bookie-\(index)",
                    executable: "\(binaries)/bookie",
                    arguments: [
                        "--id", "bookie-\(index)", "--listen", "127.0.0.1:\(self.bookiePort + index - 1)", "--http-port", "0",
                        "--journal-dir", "\(directory)/bookie-\(index)/journal", "--ledger-dirs", "\(directory)/bookie-\(index)/ledgers",
                        "--metadata-url", metadata,
                    ],
                    log: "\(directory)/bookie-\(index).log"
                )
            }
            // Broker i (from 1) on port + i - 1 and http-port + i - 1; the only one is "broker".
            let brokers = (1...self.brokers).map { index in
                let name = self.brokers == 1 ? "broker" : "broker-\(index)"
                return Supervised(
                    name: name,
                    executable: "\(binaries)/broker",
                    arguments: [
                        "--metadata-url", metadata, "--listen", "127.0.0.1:\(self.port + index - 1)", "--http-port", "\(self.httpPort + index - 1)",
                        "--ensemble-size", "\(copies)", "--write-quorum", "\(copies)", "--ack-quorum", "\(copies)",
                    ],
                    log: "\(directory)/\(name).log"
                )
            }
            children += brokers
            let stopping = StopSignal()
            for child in children { try child.start() }
            say("Magnetar standalone")
            let ports = (0..<self.brokers).map { "127.0.0.1:\(self.port + $0)" }
            say("  service URL:    pulsar://\(ports.joined(separator: ","))")
            say("  admin URL:      http://127.0.0.1:\(self.httpPort)" + (self.brokers > 1 ? " (…\(self.httpPort + self.brokers - 1))" : ""))
            say("  data directory: \(directory)")
            say("  bookies:        \(self.bookies) on ports \(self.bookiePort)…\(self.bookiePort + self.bookies - 1); logs in the data directory")
            say("Ctrl-C stops the cluster.")
            var failure: String?
            while !stopping.raised && failure == nil {
                try? await Task.sleep(for: .milliseconds(200))
                for child in children where !stopping.raised && failure == nil {
                    switch child.supervise(now: .now) {
                    case .running, .waiting:
                        break
                    case .exited(let status, let restartIn):
                        say("\(child.name) exited (status \(status)); starting it again in \(restartIn)")
                    case .restart:
                        do {
                            try child.start()
                        } catch {
                            failure = "cannot start \(child.name): \(error)"
                        }
                    case .givingUp(let reason):
                        failure = reason
                    }
                }
            }
            if let failure { say(failure) }
            say("stopping")
            // The brokers first, so they close their ledgers while the bookies still serve.
            for broker in brokers { broker.askToStop() }
            for broker in brokers { broker.terminate() }
            for child in children.dropLast(brokers.count) { child.terminate() }
            if failure != nil { throw ExitCode.failure }
        }
    }
}

/// A child process the standalone cluster keeps running.
///
/// One that exits is started again after a pause that doubles with each exit that came
/// soon after its start (from half a second up to 30 s); after `maxQuickFailures` such
/// exits in a row the supervisor gives up, with the child's last output as the reason.
/// Children learn the supervisor's pid, and stop when it dies (see `Supervision`).
final class Supervised: @unchecked Sendable {
    /// What the supervisor should do about a child now.
    enum Decision: Equatable {
        case running
        /// Exited; to be started again after `restartIn`.
        case exited(status: Int32, restartIn: Duration)
        /// Exited earlier, and its pause is not over.
        case waiting
        case restart
        case givingUp(String)
    }

    /// An exit this soon after the start counts as a failure to start.
    static let quickExit = Duration.seconds(10)
    static let maxQuickFailures = 6
    static let firstPause = Duration.milliseconds(500)
    static let longestPause = Duration.seconds(30)

    let name: String
    private let executable: String
    private let arguments: [String]
    private let log: String
    private var process: Process?
    private var startedAt = ContinuousClock.now
    private var quickFailures = 0
    private var restartAt: ContinuousClock.Instant?

    init(name: String, executable: String, arguments: [String], log: String) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.log = log
    }

    var isRunning: Bool { self.process?.isRunning ?? false }
    var status: Int32 { self.process.map { $0.isRunning ? 0 : $0.terminationStatus } ?? 0 }

    func start() throws {
        if !FileManager.default.fileExists(atPath: self.log) { _ = FileManager.default.createFile(atPath: self.log, contents: nil) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: self.log))
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.executable)
        process.arguments = self.arguments
        process.standardOutput = output
        process.standardError = output
        var environment = ProcessInfo.processInfo.environment
        environment[Supervision.parentVariable] = String(getpid())
        process.environment = environment
        try process.run()
        self.process = process
        self.startedAt = .now
        self.restartAt = nil
    }

    /// Looks at the child and says what to do.
    func supervise(now: ContinuousClock.Instant) -> Decision {
        if self.isRunning { return .running }
        if let restartAt = self.restartAt {
            return now >= restartAt ? .restart : .waiting
        }
        if now - self.startedAt < Self.quickExit {
            self.quickFailures += 1
        } else {
            self.quickFailures = 0
        }
        if self.quickFailures >= Self.maxQuickFailures {
            return .givingUp(
                "\(self.name) exited \(self.quickFailures) times in a row within \(Self.quickExit) of starting; giving up. Its last words (\(self.log)):\n" + self.lastLines()
            )
        }
        var pause = Self.firstPause
        for _ in 0..<max(0, self.quickFailures - 1) { pause = min(pause * 2, Self.longestPause) }
        self.restartAt = now + pause
        return .exited(status: self.status, restartIn: pause)
    }

    /// The last lines the child wrote, indented.
    private func lastLines(_ count: Int = 5) -> String {
        guard let handle = FileHandle(forReadingAtPath: self.log) else { return "  (no log)" }
        defer { try? handle.close() }
        let size = handle.seekToEndOfFile()
        handle.seek(toFileOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").suffix(count).map { "  " + $0 }.joined(separator: "\n")
    }

    /// Sends SIGTERM without waiting.
    func askToStop() {
        if let process = self.process, process.isRunning { process.terminate() }
    }

    /// SIGTERM, then SIGKILL if it has not exited within 15 s.
    func terminate() {
        guard let process = self.process, process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Set by SIGINT or SIGTERM.
final class StopSignal: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let flag = NSLock()
    private var stop = false

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.raise() }
            source.resume()
            self.sources.append(source)
        }
    }

    private func raise() {
        self.flag.lock()
        self.stop = true
        self.flag.unlock()
    }

    var raised: Bool {
        self.flag.lock()
        defer { self.flag.unlock() }
        return self.stop
    }
}

/// Writes a line to standard output at once (unbuffered), also when it goes to a file.
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
