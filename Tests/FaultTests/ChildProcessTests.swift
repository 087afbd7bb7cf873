import ClusterTesting
import Foundation
import Testing

/// Stopping and waiting for test children, whatever else holds what they inherited.
@Suite struct ChildProcessTests {
    /// The child leaves a grandchild holding every descriptor it inherited, Foundation's
    /// exit-notification socket among them, as a child started at the same moment on
    /// another thread could: Foundation never hears of the child's exit while the
    /// grandchild lives. Stopping the child still returns at once, with its status.
    /// (Before, `stop()` waited in `waitUntilExit()` until the grandchild exited: a fault
    /// run's nemesis hung there on a SIGKILLed bookie until the suite's time limit.)
    @Test func aChildIsStoppedThoughAnotherProcessHoldsItsExitSocket() async throws {
        let directory = try TemporaryDirectory(label: "child-stop")
        defer { directory.remove() }
        let child = try ChildProcess("/bin/sh", ["-c", "sleep 20 & echo started; exec sleep 20"], logPath: directory.file("output.log"))
        // The grandchild shares the child's process group: it goes with the group below.
        defer { _ = kill(-child.pid, SIGKILL) }
        try await child.waitForOutput("started", timeout: .seconds(10))
        #expect(child.isRunning)
        #expect(child.terminationStatus == nil)
        let started = ContinuousClock.now
        child.stop()
        let took = ContinuousClock.now - started
        #expect(took < .seconds(5), "stop() took \(took)")
        #expect(!child.isRunning)
        #expect(child.terminationStatus == SIGKILL)
    }

    /// A child that exits by itself reports its exit status.
    @Test func aChildsExitStatusIsReported() async throws {
        let result = try await ChildProcess.run("/bin/sh", ["-c", "echo out; exit 3"])
        #expect(result.status == 3)
        #expect(result.output == "out\n")
    }
}
