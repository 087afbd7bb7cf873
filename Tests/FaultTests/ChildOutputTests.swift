import ClusterTesting
import Foundation
import Testing

/// The records scripts print (receipts, deliveries) are read back from their output,
/// which the Pulsar client's log shares from another thread.
@Suite struct ChildOutputTests {
    /// A Python child printing records while another thread writes log lines: every
    /// record stays a line of its own. With PYTHONUNBUFFERED=1 (set on the machines the
    /// suite runs on) a print's text and its newline were two writes, and about one record
    /// in fifteen ran into a log line here; the fault suite then reported a delivered
    /// message lost.
    @Test func recordsPrintedBesideAnotherThreadsOutputStayWholeLines() async throws {
        setenv("PYTHONUNBUFFERED", "1", 1)
        let directory = try TemporaryDirectory(label: "child-output")
        defer { directory.remove() }
        let script = """
            import os, threading
            stop = False
            def noise():
                while not stop:
                    os.write(1, b"2026-11-30 INFO a log line of the client\\n")
            thread = threading.Thread(target=noise)
            thread.start()
            for i in range(20000):
                print("M %d" % i, flush=True)
            stop = True
            thread.join()
            """
        let child = try ChildProcess(try PythonClient.interpreter(), ["-c", script], logPath: directory.file("output.log"))
        defer { child.stop() }
        #expect(try await child.waitForExit(timeout: .seconds(60)) == 0)
        let records = child.output().split(separator: "\n").filter { $0.hasPrefix("M ") }
        let whole = records.filter { Int($0.dropFirst(2)) != nil }
        #expect(whole.count == 20000, "\(records.count - whole.count) records ran into other output, e.g. \(records.first { Int($0.dropFirst(2)) == nil } ?? "")")
    }
}
