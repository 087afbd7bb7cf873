import BookieWire
import ClusterTesting
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import NIOCore
import NIOPosix
import Testing

/// A connection to a bookie process that pipelines requests and collects responses.
final class PipelinedConnection: Sendable {
    private let channel: NIOAsyncChannel<BookieFrame, ByteBuffer>

    init(port: Int) async throws {
        self.channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BookieFrameDecoder()))
                    return try NIOAsyncChannel<BookieFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Sends `requests` in one write and returns the responses that arrive before the
    /// connection ends or all are answered.
    func exchange(_ requests: [BookieRequest]) async throws -> [BookieResponse] {
        var responses: [BookieResponse] = []
        do {
            try await self.channel.executeThenClose { inbound, outbound in
                var burst = ByteBuffer()
                for request in requests { request.write(into: &burst) }
                try await outbound.write(burst)
                for try await frame in inbound {
                    responses.append(try BookieResponse(parsing: frame))
                    if responses.count == requests.count { break }
                }
            }
        } catch let error as BookieWireError {
            throw error
        } catch {
            // The bookie died mid-stream: what was answered is what was acknowledged.
        }
        return responses
    }
}

@Suite("Bookie process", .timeLimit(.minutes(3)))
struct BookieProcessTests {
    static let key = Array("key".utf8)

    static func entry(_ ledger: UInt64, _ entry: UInt64) -> ByteBuffer {
        var buffer = ByteBuffer()
        let payload = ByteBuffer(string: "ledger \(ledger) entry \(entry) " + String(repeating: "z", count: Int(entry % 64)))
        LedgerEntry(ledgerID: ledger, entryID: entry, lastAddConfirmed: Int64(entry) - 1, ledgerLength: 0, payload: payload).write(into: &buffer)
        return buffer
    }

    static func startBookie(_ directory: TemporaryDirectory, port: Int, httpPort: Int = 0, log: String) async throws -> ChildProcess {
        let bookie = try ChildProcess(
            try BuiltProducts.path(of: "bookie"),
            [
                "--id", "bookie-1", "--listen", "127.0.0.1:\(port)", "--http-port", "\(httpPort)",
                "--journal-dir", directory.file("journal"), "--ledger-dirs", directory.file("ledgers"),
                "--metadata-url", "sqlite:\(directory.file("metadata.db"))",
            ],
            logPath: directory.file(log)
        )
        try await bookie.waitForOutput("bookie serving")
        return bookie
    }

    @Test func everyAcknowledgedEntrySurvivesSIGKILL() async throws {
        let directory = try TemporaryDirectory(label: "bookie-kill")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let bookie = try await Self.startBookie(directory, port: port, log: "first.log")
        defer { bookie.stop() }
        try await DirectLedgers.register(1...10, key: Self.key, metadataURL: "sqlite:\(directory.file("metadata.db"))")

        // 100k entries over 10 ledgers, interleaved, in pipelined bursts; kill mid-stream.
        let all = (0..<10_000).flatMap { entry in (1...10).map { ledger in (UInt64(ledger), UInt64(entry)) } }
        var acknowledged: [UInt64: Set<UInt64>] = [:]
        var sent = 0
        var killed = false
        while sent < all.count {
            let burst = all[sent..<min(sent + 5_000, all.count)]
            let requests = burst.enumerated().map { offset, pair in
                BookieRequest(requestID: UInt64(sent + offset), .add(entry: Self.entry(pair.0, pair.1), ledgerKey: Self.key, recovery: false))
            }
            let connection = try await PipelinedConnection(port: port)
            let killNow = sent >= 50_000 && !killed
            let killer = Task {
                if killNow {
                    try await Task.sleep(for: .milliseconds(30))
                    bookie.kill(SIGKILL)
                }
            }
            let responses = try await connection.exchange(requests)
            try await killer.value
            for response in responses where response.status == .ok {
                if case .add(let ledger, let entry) = response.body { acknowledged[ledger, default: []].insert(entry) }
            }
            sent += burst.count
            if sent > 50_000 && !killed {
                killed = true
                break
            }
        }
        let acknowledgedCount = acknowledged.values.map(\.count).reduce(0, +)
        #expect(killed)
        #expect(acknowledgedCount >= 50_000, "acknowledged \(acknowledgedCount)")
        bookie.stop()

        let restarted = try await Self.startBookie(directory, port: port, log: "second.log")
        defer { restarted.stop() }
        var checked = 0
        for (ledger, entries) in acknowledged {
            let highest = entries.max()!
            var requests: [BookieRequest] = []
            for entry in entries.sorted() {
                requests.append(BookieRequest(requestID: entry, .read(ReadRequest(ledgerID: ledger, firstEntryID: entry))))
            }
            let connection = try await PipelinedConnection(port: port)
            let responses = try await connection.exchange(requests)
            #expect(responses.count == requests.count)
            for response in responses {
                guard case .read(_, let first, _, let read) = response.body else {
                    Issue.record("entry \(ledger):\(response.requestID) did not read back: \(response)")
                    continue
                }
                #expect(read == [Self.entry(ledger, first)], "entry \(ledger):\(first) is byte-identical")
                checked += 1
            }
            let lac = try await PipelinedConnection(port: port).exchange([BookieRequest(requestID: 0, .readLAC(ledgerID: ledger))])
            guard case .readLAC(_, let known) = lac.first?.body else {
                Issue.record("no LAC for ledger \(ledger)")
                continue
            }
            #expect(known >= Int64(highest) - 1, "ledger \(ledger): LAC \(known), highest acknowledged \(highest)")
        }
        #expect(checked == acknowledgedCount)
    }

    @Test func metricsAndHealthAreServedOverHTTP() async throws {
        let directory = try TemporaryDirectory(label: "bookie-http")
        defer { directory.remove() }
        let port = try FreePort.allocate()
        let httpPort = try FreePort.allocate()
        let bookie = try await Self.startBookie(directory, port: port, httpPort: httpPort, log: "bookie.log")
        defer { bookie.stop() }
        try await DirectLedgers.register([7], key: Self.key, metadataURL: "sqlite:\(directory.file("metadata.db"))")
        let adds = (0..<5).map { BookieRequest(requestID: $0, .add(entry: Self.entry(7, $0), ledgerKey: Self.key, recovery: false)) }
        let reads = (0..<3).map { BookieRequest(requestID: 10 + $0, .read(ReadRequest(ledgerID: 7, firstEntryID: $0))) }
        #expect(try await PipelinedConnection(port: port).exchange(adds).allSatisfy { $0.status == .ok })
        #expect(try await PipelinedConnection(port: port).exchange(reads).allSatisfy { $0.status == .ok })
        let written = (0..<5).reduce(0) { $0 + Self.entry(7, $1).readableBytes }

        let (metrics, metricsStatus) = try await Self.get("http://127.0.0.1:\(httpPort)/metrics")
        #expect(metricsStatus == 200)
        for line in [
            "bookkeeper_server_ADD_ENTRY_REQUEST_count 5", "bookkeeper_server_READ_ENTRY_REQUEST_count 3", "bookie_WRITE_BYTES \(written)",
            "bookie_SERVER_STATUS 1.0", "bookie_ledgers_count 1.0", "bookie_journal_JOURNAL_QUEUE_SIZE 0.0",
        ] {
            #expect(metrics.split(separator: "\n").contains { $0 == line }, "no '\(line)' in:\n\(metrics)")
        }
        #expect(metrics.contains("bookie_journal_JOURNAL_SYNC_bucket"))
        let (health, healthStatus) = try await Self.get("http://127.0.0.1:\(httpPort)/health")
        #expect(healthStatus == 200 && health.contains("writable"), "\(healthStatus) \(health)")
        let (_, missingStatus) = try await Self.get("http://127.0.0.1:\(httpPort)/nothing-here")
        #expect(missingStatus == 404)
    }

    static func get(_ url: String) async throws -> (body: String, status: Int) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return (String(decoding: data, as: UTF8.self), (response as? HTTPURLResponse)?.statusCode ?? 0)
    }
}
