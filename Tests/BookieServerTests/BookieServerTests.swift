import BookieServer
import BookieStorage
import BookieWire
import ClusterTesting
import NIOCore
import NIOPosix
import Testing

/// A running server on a loopback port with a fresh store.
final class ServerFixture: Sendable {
    let directory: TemporaryDirectory
    let store: BookieStore
    let pool: NIOThreadPool
    let server: BookieServer

    init() async throws {
        self.directory = try TemporaryDirectory(label: "bookie-server")
        self.store = try BookieStore.open(
            .init(journal: .init(directory: self.directory.file("journal"), preallocationStep: 256 << 10), ledgerDirectory: self.directory.file("ledgers"))
        )
        self.pool = NIOThreadPool(numberOfThreads: 2)
        self.pool.start()
        self.server = try await BookieServer.start(
            .init(host: "127.0.0.1", port: 0, maximumFrameSize: 1 << 20),
            store: self.store,
            group: MultiThreadedEventLoopGroup.singleton,
            blockingPool: self.pool,
            keys: TrustingKeys(),
            info: { BookieInfo(freeBytes: 1, totalBytes: 2, readOnly: false) }
        )
    }

    func stop() async throws {
        try await self.server.close()
        try await self.pool.shutdownGracefully()
        self.store.close()
        self.directory.remove()
    }

    /// Connects, runs `body` with a way to send bytes and receive frames, and closes.
    func withConnection(_ body: (_ send: (ByteBuffer) async throws -> Void, _ receive: () async throws -> BookieFrame?) async throws -> Void) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: self.server.localPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BookieFrameDecoder()))
                    return try NIOAsyncChannel<BookieFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            try await body({ try await outbound.write($0) }, { try await frames.next() })
        }
    }
}

extension BookieRequest {
    var bytes: ByteBuffer {
        var buffer = ByteBuffer()
        self.write(into: &buffer)
        return buffer
    }
}

@Suite("Bookie server", .timeLimit(.minutes(1)))
struct BookieServerTests {
    static let key = Array("key".utf8)

    static func entry(_ ledger: UInt64, _ entry: UInt64) -> ByteBuffer {
        var buffer = ByteBuffer()
        LedgerEntry(ledgerID: ledger, entryID: entry, lastAddConfirmed: Int64(entry) - 1, ledgerLength: 0, payload: ByteBuffer(string: "payload \(entry)"))
            .write(into: &buffer)
        return buffer
    }

    static func call(_ request: BookieRequest, _ send: (ByteBuffer) async throws -> Void, _ receive: () async throws -> BookieFrame?) async throws -> BookieResponse {
        try await send(request.bytes)
        let frame = try #require(try await receive())
        return try BookieResponse(parsing: frame)
    }

    @Test func addReadFenceAndLACOverTheWire() async throws {
        let fixture = try await ServerFixture()
        try await fixture.withConnection { send, receive in
            for index: UInt64 in 0..<5 {
                let response = try await Self.call(BookieRequest(requestID: index, .add(entry: Self.entry(1, index), ledgerKey: Self.key, recovery: false)), send, receive)
                #expect(response == BookieResponse(requestID: index, .add(ledgerID: 1, entryID: index)))
            }
            let read = try await Self.call(BookieRequest(requestID: 10, .read(ReadRequest(ledgerID: 1, firstEntryID: 1, maxEntries: 10))), send, receive)
            #expect(read == BookieResponse(requestID: 10, .read(ledgerID: 1, firstEntryID: 1, lastAddConfirmed: 3, entries: (1..<5).map { Self.entry(1, $0) })))
            let lac = try await Self.call(BookieRequest(requestID: 11, .readLAC(ledgerID: 1)), send, receive)
            #expect(lac == BookieResponse(requestID: 11, .readLAC(ledgerID: 1, lastAddConfirmed: 3)))
            let fencing = try await Self.call(BookieRequest(requestID: 12, .read(ReadRequest(ledgerID: 1, firstEntryID: 4, fence: true, ledgerKey: Self.key))), send, receive)
            #expect(fencing == BookieResponse(requestID: 12, .read(ledgerID: 1, firstEntryID: 4, lastAddConfirmed: 3, entries: [Self.entry(1, 4)])))
            let refused = try await Self.call(BookieRequest(requestID: 13, .add(entry: Self.entry(1, 5), ledgerKey: Self.key, recovery: false)), send, receive)
            #expect(refused.status == .fenced)
            let recovered = try await Self.call(BookieRequest(requestID: 14, .add(entry: Self.entry(1, 5), ledgerKey: Self.key, recovery: true)), send, receive)
            #expect(recovered.status == .ok)
            let written = try await Self.call(BookieRequest(requestID: 15, .writeLAC(ledgerID: 1, lastAddConfirmed: 5, ledgerKey: Self.key)), send, receive)
            #expect(written == BookieResponse(requestID: 15, .writeLAC(ledgerID: 1)))
            let missing = try await Self.call(BookieRequest(requestID: 16, .read(ReadRequest(ledgerID: 1, firstEntryID: 99))), send, receive)
            #expect(missing.status == .noEntry)
            let fencedMissing = try await Self.call(
                BookieRequest(requestID: 17, .read(ReadRequest(ledgerID: 1, firstEntryID: 99, fence: true, ledgerKey: Self.key))), send, receive
            )
            #expect(fencedMissing == BookieResponse(requestID: 17, .read(ledgerID: 1, firstEntryID: 99, lastAddConfirmed: 5, entries: [])))
            let noLedger = try await Self.call(BookieRequest(requestID: 17, .readLAC(ledgerID: 77)), send, receive)
            #expect(noLedger.status == .noLedger)
            let info = try await Self.call(BookieRequest(requestID: 18, .getInfo), send, receive)
            #expect(info == BookieResponse(requestID: 18, .getInfo(BookieInfo(freeBytes: 1, totalBytes: 2, readOnly: false))))
        }
        try await fixture.stop()
    }

    @Test func aLongPollReadWaitsForTheLACToPass() async throws {
        let fixture = try await ServerFixture()
        try await fixture.withConnection { send, receive in
            for index: UInt64 in 0..<3 {
                _ = try await Self.call(BookieRequest(requestID: index, .add(entry: Self.entry(5, index), ledgerKey: Self.key, recovery: false)), send, receive)
            }
            // The LAC (1) is already past 0: answered at once with what it covers.
            let ready = try await Self.call(
                BookieRequest(requestID: 10, .read(ReadRequest(ledgerID: 5, firstEntryID: 1, maxEntries: 10, longPoll: .init(previousLAC: 0, timeoutMilliseconds: 5000)))),
                send, receive
            )
            #expect(ready == BookieResponse(requestID: 10, .read(ledgerID: 5, firstEntryID: 1, lastAddConfirmed: 1, entries: [Self.entry(5, 1)])))
            // Nothing passes 100 in time: the answer comes at the timeout, empty.
            let started = ContinuousClock.now
            let timedOut = try await Self.call(
                BookieRequest(requestID: 11, .read(ReadRequest(ledgerID: 5, firstEntryID: 101, longPoll: .init(previousLAC: 100, timeoutMilliseconds: 300)))),
                send, receive
            )
            #expect(ContinuousClock.now - started >= .milliseconds(250))
            #expect(timedOut == BookieResponse(requestID: 11, .read(ledgerID: 5, firstEntryID: 101, lastAddConfirmed: 1, entries: [])))
            // Waiting for the LAC to pass 1: an add on another connection moves it to 2.
            try await send(BookieRequest(requestID: 12, .read(ReadRequest(ledgerID: 5, firstEntryID: 2, longPoll: .init(previousLAC: 1, timeoutMilliseconds: 10_000)))).bytes)
            try await Task.sleep(for: .milliseconds(100))
            try await fixture.withConnection { send, receive in
                let added = try await Self.call(BookieRequest(requestID: 3, .add(entry: Self.entry(5, 3), ledgerKey: Self.key, recovery: false)), send, receive)
                #expect(added.status == .ok)
            }
            let woken = try BookieResponse(parsing: try #require(try await receive()))
            #expect(woken == BookieResponse(requestID: 12, .read(ledgerID: 5, firstEntryID: 2, lastAddConfirmed: 2, entries: [Self.entry(5, 2)])))
        }
        try await fixture.stop()
    }

    @Test func pipelinedAddsAreAllAnswered() async throws {
        let fixture = try await ServerFixture()
        try await fixture.withConnection { send, receive in
            var burst = ByteBuffer()
            for index: UInt64 in 0..<200 {
                BookieRequest(requestID: 1000 + index, .add(entry: Self.entry(2, index), ledgerKey: Self.key, recovery: false)).write(into: &burst)
            }
            try await send(burst)
            var answered: Set<UInt64> = []
            for _ in 0..<200 {
                let response = try BookieResponse(parsing: try #require(try await receive()))
                #expect(response.status == .ok)
                answered.insert(response.requestID)
            }
            #expect(answered == Set(1000..<1200))
        }
        try await fixture.stop()
    }

    @Test func badInputGetsAnErrorAndOtherConnectionsKeepWorking() async throws {
        let fixture = try await ServerFixture()
        try await fixture.withConnection { send, receive in
            var corrupt = Self.entry(3, 0)
            corrupt.setInteger(UInt8(0xAA), at: corrupt.writerIndex - 1)
            let refused = try await Self.call(BookieRequest(requestID: 1, .add(entry: corrupt, ledgerKey: Self.key, recovery: false)), send, receive)
            #expect(refused.status == .corruptEntry)
            var unknown = ByteBuffer()
            unknown.writeMultipleIntegers(UInt32(12), BookieFrame.version, UInt8(42), UInt16(0), UInt64(2))
            try await send(unknown)
            let answer = try BookieResponse(parsing: try #require(try await receive()))
            #expect(answer.requestID == 2 && answer.status == .badRequest)
            // The connection still works after answered bad requests.
            let ok = try await Self.call(BookieRequest(requestID: 3, .add(entry: Self.entry(3, 0), ledgerKey: Self.key, recovery: false)), send, receive)
            #expect(ok.status == .ok)
        }
        try await fixture.withConnection { send, receive in
            var oversize = ByteBuffer()
            oversize.writeInteger(UInt32(64 << 20))
            try await send(oversize)
            #expect(try await receive() == nil, "an oversize frame closes the connection")
        }
        try await fixture.withConnection { send, receive in
            let read = try await Self.call(BookieRequest(requestID: 4, .read(ReadRequest(ledgerID: 3, firstEntryID: 0))), send, receive)
            #expect(read.status == .ok, "a new connection is served")
        }
        try await fixture.stop()
    }
}
