import ArgumentParser
import Foundation

extension Magnetar {
    struct Standalone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a one-host cluster: bookies and a broker sharing a SQLite metadata file.",
            discussion: """
                The bookies and the broker run as child processes; one that dies is started again. \
                Ctrl-C or SIGTERM stops them all cleanly. Starting again on the same data \
                directory serves the same topics and messages.
                """
        )

        @Option(help: "Directory for metadata and bookie data.")
        var dataDir = "data"

        @Option(help: "Number of bookie processes.")
        var bookies = 3

        @Option(help: "Port of the Pulsar protocol.")
        var port = 6650

        @Option(help: "Port of the REST API.")
        var httpPort = 8080

        @Option(help: "First bookie port; bookie i listens on this plus i.")
        var bookiePort = 3181

        func run() async throws {
            guard self.bookies >= 1 else { throw ValidationError("--bookies must be at least 1") }
            let directory = URL(fileURLWithPath: self.dataDir).standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
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
            children.append(
                Supervised(
                    name: "broker",
                    executable: "\(binaries)/broker",
                    arguments: [
                        "--metadata-url", metadata, "--listen", "127.0.0.1:\(self.port)", "--http-port", "\(self.httpPort)",
                        "--ensemble-size", "\(copies)", "--write-quorum", "\(copies)", "--ack-quorum", "\(copies)",
                    ],
                    log: "\(directory)/broker.log"
                )
            )
            let stopping = StopSignal()
            for child in children { try child.start() }
            say("Magnetar standalone")
            say("  service URL:    pulsar://127.0.0.1:\(self.port)")
            say("  admin URL:      http://127.0.0.1:\(self.httpPort)")
            say("  data directory: \(directory)")
            say("  bookies:        \(self.bookies) on ports \(self.bookiePort)…\(self.bookiePort + self.bookies - 1); logs in the data directory")
            say("Ctrl-C stops the cluster.")
            while !stopping.raised {
                try? await Task.sleep(for: .milliseconds(200))
                for child in children where !child.isRunning && !stopping.raised {
                    say("\(child.name) exited (status \(child.status)); starting it again")
                    try? child.start()
                }
            }
            say("stopping")
            // The broker first, so it closes its ledgers while the bookies still serve.
            children.last!.terminate()
            for child in children.dropLast() { child.terminate() }
        }
    }
}

/// A child process the standalone cluster keeps running.
final class Supervised: @unchecked Sendable {
    let name: String
    private let executable: String
    private let arguments: [String]
    private let log: String
    private var process: Process?

    init(name: String, executable: String, arguments: [String], log: String) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.log = log
    }

    var isRunning: Bool { self.process?.isRunning ?? false }
    var status: Int32 { self.process.map { $0.isRunning ? 0 : $0.terminationStatus } ?? 0 }

    func start() throws {
        if !FileManager.default.fileExists(atPath: self.log) { FileManager.default.createFile(atPath: self.log, contents: nil) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: self.log))
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.executable)
        process.arguments = self.arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
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
