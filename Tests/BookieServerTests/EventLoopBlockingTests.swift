import BookieServer
import BookieStorage
import BookieWire
import ClusterTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Requests that need a ledger's state from the index (a RocksDB read, here held up by a
/// test hook as a slow disk would) must not hold the connection's event loop: the loop
/// goes on answering other connections meanwhile.
@Suite("Event loop stays free of index reads", .serialized, .timeLimit(.minutes(1)))
struct EventLoopBlockingTests {
    static let key = Array("key".utf8)

    enum Kind: String, CaseIterable, Sendable {
        case add, fence, writeLAC, longPoll

        func request(ledgerID: UInt64) -> BookieRequest {
            switch self {
            case .add:
                BookieRequest(requestID: 1, .add(entry: BookieServerTests.entry(ledgerID, 1), ledgerKey: EventLoopBlockingTests.key, recovery: false))
            case .fence:
                BookieRequest(requestID: 1, .read(ReadRequest(ledgerID: ledgerID, firstEntryID: 0, fence: true, ledgerKey: EventLoopBlockingTests.key)))
            case .writeLAC:
                BookieRequest(requestID: 1, .writeLAC(ledgerID: ledgerID, lastAddConfirmed: 0, ledgerKey: EventLoopBlockingTests.key))
            case .longPoll:
                BookieRequest(
                    requestID: 1,
                    .read(ReadRequest(ledgerID: ledgerID, firstEntryID: 1, longPoll: .init(previousLAC: 5, timeoutMilliseconds: 100)))
                )
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func aRequestWaitingOnTheIndexLeavesTheLoopFree(_ kind: Kind) async throws {
        let directory = try TemporaryDirectory(label: "loop-\(kind.rawValue)")
        defer { directory.remove() }
        let configuration = BookieStore.Configuration(
            journal: .init(directory: directory.file("journal"), preallocationStep: 256 << 10), ledgerDirectory: directory.file("ledgers")
        )
        // Ledger 1 goes to the index; after reopening, memory holds nothing of it.
        let first = try BookieStore.open(configuration)
        _ = try await first.addEntry(BookieServerTests.entry(1, 0), ledgerKey: Self.key, recovery: false)
        try first.flush()
        first.close()
        let store = try BookieStore.open(configuration)
        let gate = ThreadGate()
        store.setTestingBeforeIndexRead { ledgerID in if ledgerID == 1 { gate.hold() } }

        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        let server = try await BookieServer.start(
            .init(host: "127.0.0.1", port: 0), store: store, group: loops, blockingPool: pool, keys: TrustingKeys(),
            info: { BookieInfo(freeBytes: 1, totalBytes: 2, readOnly: false) }
        )
        let waiting = Task { try await PipelinedConnection(port: server.localPort).exchange([kind.request(ledgerID: 1)]) }
        do {
            try await gate.waitUntilHolding(timeout: .seconds(5))
            let ran = Flag()
            loops.next().execute { ran.set() }
            #expect(await ran.wait(for: .seconds(2)), "the event loop ran a task while the \(kind) waited on the index")
            let other = Task { try await PipelinedConnection(port: server.localPort).exchange([BookieRequest(requestID: 2, .getInfo)]) }
            let answered = Flag()
            let watcher = Task {
                _ = try? await other.value
                answered.set()
            }
            #expect(await answered.wait(for: .seconds(2)), "another connection was answered while the \(kind) waited on the index")
            gate.open()
            _ = await watcher.value
        } catch {
            Issue.record("\(error)")
        }
        gate.open()
        let responses = try await waiting.value
        #expect(responses.count == 1 && responses.first?.status == .ok, "the \(kind) is answered once the index answers: \(responses)")
        try await server.close()
        try await pool.shutdownGracefully()
        store.close()
        try await loops.shutdownGracefully()
    }
}

/// A flag one thread sets and a test waits for.
final class Flag: Sendable {
    private let value = Mutex(false)

    func set() {
        self.value.withLock { $0 = true }
    }

    /// Whether the flag is set within `timeout` (polling).
    func wait(for timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.value.withLock({ $0 }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return self.value.withLock { $0 }
    }
}
