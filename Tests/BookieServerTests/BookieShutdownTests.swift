import BookieWire
import ClusterTesting
import Foundation
import NIOCore
import Synchronization
import Testing

/// SIGTERM to a bookie taking adds: it stops within a few seconds with status 0, and
/// every entry it acknowledged reads back after a restart.
@Suite("Bookie shutdown", .serialized, .timeLimit(.minutes(3)))
struct BookieShutdownTests {
    /// What the load acknowledged, by ledger.
    final class Acknowledged: Sendable {
        private let entries = Mutex<[UInt64: Set<UInt64>]>([:])

        func add(_ responses: [BookieResponse]) {
            self.entries.withLock { entries in
                for response in responses where response.status == .ok {
                    if case .add(let ledger, let entry) = response.body { entries[ledger, default: []].insert(entry) }
                }
            }
        }

        var all: [UInt64: Set<UInt64>] { self.entries.withLock { $0 } }
        var count: Int { self.entries.withLock { $0.values.map(\.count).reduce(0, +) } }
    }

    @Test func sigtermUnderAddLoadExitsCleanlyAndKeepsWhatWasAcknowledged() async throws {
        let directory = try TemporaryDirectory(label: "bookie-sigterm")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let bookie = try await BookieProcessTests.startBookie(directory, port: port, log: "first.log")
        defer { bookie.stop() }
        try await DirectLedgers.register(1...4, key: BookieProcessTests.key, metadataURL: "sqlite:\(directory.file("metadata.db"))")

        // Bursts of pipelined adds over 4 ledgers on fresh connections, until the bookie
        // refuses connections.
        let acknowledged = Acknowledged()
        let load = Task {
            var next: UInt64 = 0
            while !Task.isCancelled {
                let requests = (next..<next + 2_000).map { sequence in
                    BookieRequest(
                        requestID: sequence,
                        .add(entry: BookieProcessTests.entry(1 + sequence % 4, sequence / 4), ledgerKey: BookieProcessTests.key, recovery: false)
                    )
                }
                next += 2_000
                guard let connection = try? await PipelinedConnection(port: port), let responses = try? await connection.exchange(requests) else { return }
                acknowledged.add(responses)
            }
        }
        while acknowledged.count < 10_000 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let signalled = ContinuousClock.now
        bookie.kill(SIGTERM)
        let status = try await bookie.waitForExit(timeout: .seconds(20))
        let took = ContinuousClock.now - signalled
        print("bookie: SIGTERM to exit under add load took \(took)")
        load.cancel()
        _ = await load.value
        #expect(status == 0, "the bookie exited cleanly on SIGTERM; its log ends:\n\(bookie.output().suffix(2000))")
        #expect(took < .seconds(5), "SIGTERM to exit took \(took)")
        #expect(bookie.output().contains("the store is flushed and closed"), "\(bookie.output().suffix(2000))")

        let restarted = try await BookieProcessTests.startBookie(directory, port: port, log: "second.log")
        defer { restarted.stop() }
        var checked = 0
        for (ledger, entries) in acknowledged.all {
            let requests = entries.sorted().map { BookieRequest(requestID: $0, .read(ReadRequest(ledgerID: ledger, firstEntryID: $0))) }
            let responses = try await PipelinedConnection(port: port).exchange(requests)
            #expect(responses.count == requests.count)
            for response in responses {
                guard case .read(_, let first, _, let read) = response.body else {
                    Issue.record("entry \(ledger):\(response.requestID) did not read back: \(response)")
                    continue
                }
                #expect(read == [BookieProcessTests.entry(ledger, first)], "entry \(ledger):\(first) is byte-identical")
                checked += 1
            }
        }
        #expect(checked == acknowledged.count && checked >= 10_000, "read back \(checked) of \(acknowledged.count)")
    }
}
