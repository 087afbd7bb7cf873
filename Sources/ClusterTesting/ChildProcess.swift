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
        self.pid = process.processIdentifier
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

    public let pid: Int32

    /// Whether the child has not exited. Foundation learns of an exit only when every copy
    /// of a socket the child inherited is closed, and a child started meanwhile on another
    /// thread can inherit that socket too: Foundation then saw the exit only once that
    /// other child exited as well, and a wait for it hung (a fault run's nemesis waited for
    /// a SIGKILLed bookie for ever). So the kernel is asked: an exited child is a zombie
    /// until reaped, or gone once reaped.
    public var isRunning: Bool {
        guard self.process.withLock({ $0.isRunning }) else { return false }
        return ExitState.read(self.pid) == nil
    }

    /// Sends `signal` to the child.
    public func kill(_ signal: Int32) {
        _ = Foundation.kill(self.pid, signal)
    }

    /// Kills the child with SIGKILL and waits for it to exit.
    public func stop() {
        if self.isRunning { _ = Foundation.kill(self.pid, SIGKILL) }
        // SIGKILL ends a process at once unless it is inside an uninterruptible wait.
        let deadline = ContinuousClock.now + .seconds(60)
        while self.isRunning, ContinuousClock.now < deadline { usleep(1000) }
        Reaper.shared.forget(self.pid)
    }

    /// How the child ended, as Foundation reports it: the exit status, or the number of
    /// the signal that killed it; nil while it runs.
    public var terminationStatus: Int32? {
        let process = self.process.withLock { $0 }
        if !process.isRunning { return process.terminationStatus }
        switch ExitState.read(self.pid) {
        case .zombie(let status): return status & 0x7f != 0 ? status & 0x7f : (status >> 8) & 0xff
        case .reaped:
            // Reaped by Foundation, which is about to say so.
            let deadline = ContinuousClock.now + .seconds(1)
            while process.isRunning, ContinuousClock.now < deadline { usleep(1000) }
            return process.isRunning ? nil : process.terminationStatus
        case nil: return nil
        }
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
        return (child.terminationStatus ?? -1, child.output())
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
        return self.terminationStatus ?? -1
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
