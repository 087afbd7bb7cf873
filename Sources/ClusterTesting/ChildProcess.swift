import Foundation
import Synchronization

/// A real process started by a test, with its output in a log file. ``kill(_:)`` sends a
/// signal; ``stop()`` sends SIGKILL and reaps it. Every child still running when the test
/// process exits normally is killed then too.
public final class ChildProcess: Sendable {
    public let executable: String
    public let arguments: [String]
    /// The file holding the child's standard output and error.
    public let logPath: String
    private let process: Mutex<Process>

    /// Starts `executable` (a path, or a name looked up in `PATH`) with `arguments`.
    public init(_ executable: String, _ arguments: [String], logPath: String, environment: [String: String]? = nil) throws {
        guard let resolved = Self.resolve(executable) else {
            throw TestHarnessError("cannot find the executable '\(executable)' (is it installed? run tools/setup)")
        }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        guard let log = FileHandle(forWritingAtPath: logPath) else {
            throw TestHarnessError("cannot write the log file \(logPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: resolved)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        process.environment = environment ?? Self.inheritedEnvironment
        try process.run()
        self.executable = resolved
        self.arguments = arguments
        self.logPath = logPath
        self.process = Mutex(process)
        Reaper.shared.track(process.processIdentifier)
    }

    /// What a child inherits when given no environment: this process's, without
    /// PYTHONUNBUFFERED. Unbuffered, Python writes a print's text and its newline with two
    /// writes, and another thread's output (the Pulsar client's log) can land between
    /// them, splitting a line a test reads ("M faults-2-b 611 32 107" ran into a log line
    /// and the message was reported lost). Buffered, a printed line flushed at once is one
    /// write.
    static var inheritedEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = nil
        return environment
    }

    public var pid: Int32 { self.process.withLock { $0.processIdentifier } }
    public var isRunning: Bool { self.process.withLock { $0.isRunning } }

    /// Sends `signal` to the child.
    public func kill(_ signal: Int32) {
        _ = Foundation.kill(self.pid, signal)
    }

    /// Kills the child with SIGKILL and waits for it to exit.
    public func stop() {
        let process = self.process.withLock { $0 }
        if process.isRunning {
            _ = Foundation.kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        Reaper.shared.forget(process.processIdentifier)
    }

    /// Runs `executable arguments…` to completion without blocking a thread, and returns
    /// its exit status and combined output. Kills it after `timeout`.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String) {
        let directory = try TemporaryDirectory(label: "run")
        defer { directory.remove() }
        let child = try ChildProcess(executable, arguments, logPath: directory.file("output.log"))
        let deadline = ContinuousClock.now + timeout
        while child.isRunning {
            guard ContinuousClock.now < deadline else {
                child.stop()
                throw TestHarnessError("\(executable) \(arguments) did not finish within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        child.stop()
        return (child.process.withLock { $0.terminationStatus }, child.output())
    }

    /// Waits for the child to exit on its own and returns its status; kills it and throws
    /// after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while self.isRunning {
            guard ContinuousClock.now < deadline else {
                self.stop()
                throw TestHarnessError("\(self.executable) did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        self.stop()
        return self.process.withLock { $0.terminationStatus }
    }

    /// The child's output so far.
    public func output() -> String {
        (try? String(contentsOfFile: self.logPath, encoding: .utf8)) ?? ""
    }

    /// Waits until the child's output contains `text`, or throws after `timeout`.
    public func waitForOutput(_ text: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !self.output().contains(text) {
            guard ContinuousClock.now < deadline else {
                throw TestHarnessError("\(self.executable) did not print '\(text)' within \(timeout); output:\n\(self.output())")
            }
            guard self.isRunning else {
                throw TestHarnessError("\(self.executable) exited before printing '\(text)'; output:\n\(self.output())")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func resolve(_ executable: String) -> String? {
        if executable.contains("/") {
            return FileManager.default.isExecutableFile(atPath: executable) ? executable : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// Kills, at normal exit of the test process, every child that a test left running, and
/// then removes the directories registered for removal.
final class Reaper: Sendable {
    static let shared: Reaper = {
        let reaper = Reaper()
        atexit {
            let (pids, directories) = Reaper.shared.state.withLock { ($0.pids, $0.directories) }
            for pid in pids {
                _ = kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
            }
            for directory in directories {
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        return reaper
    }()

    private struct State {
        var pids: Set<Int32> = []
        var directories: Set<String> = []
    }

    private let state = Mutex(State())

    func track(_ pid: Int32) { self.state.withLock { _ = $0.pids.insert(pid) } }
    func forget(_ pid: Int32) { self.state.withLock { _ = $0.pids.remove(pid) } }
    func removeAtExit(_ directory: String) { self.state.withLock { _ = $0.directories.insert(directory) } }
    func keepAtExit(_ directory: String) { self.state.withLock { _ = $0.directories.remove(directory) } }
}

/// Paths of the executables this package builds, next to the running test binary.
public enum BuiltProducts {
    /// The build directory holding the test binary and the package's executables.
    public static var directory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = (executable as NSString).deletingLastPathComponent
        // `swift test` may run the test binary from inside an .xctest bundle directory.
        while directory.hasSuffix(".xctest") || (directory as NSString).lastPathComponent == "Contents" {
            directory = (directory as NSString).deletingLastPathComponent
        }
        return directory
    }

    /// The path of the built executable `name` (`magnetar`, `bookie`, `broker`).
    public static func path(of name: String) throws -> String {
        let path = "\(self.directory)/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestHarnessError("the executable \(path) is not built; run `swift build` first")
        }
        return path
    }
}
