import BookieServer
import BookieStorage
import BookieWire
import ClusterTesting
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// The request handler on an in-memory channel, without a socket or a process: what it
/// answers to frames it cannot parse, to an add then a read, and to a fence.
@Suite("Bookie request handler", .timeLimit(.minutes(1)))
struct BookieRequestHandlerTests {
    /// A handler on a testing channel over a fresh store. Answers from the journal thread
    /// and the blocking pool reach the channel through its (thread-safe) event loop.
    final class Fixture: Sendable {
        let directory: TemporaryDirectory
        let store: BookieStore
        let pool: NIOThreadPool
        let channel: NIOAsyncTestingChannel

        init(
            keys: any LedgerKeyAuthority = TrustingKeys(), maxPendingRequests: Int = BookieRequestHandler.defaultMaxPendingRequests,
            before: (any ChannelHandler & Sendable)? = nil
        ) async throws {
            self.directory = try TemporaryDirectory(label: "request-handler")
            self.store = try BookieStore.open(
                .init(journal: .init(directory: self.directory.file("journal"), preallocationStep: 256 << 10), ledgerDirectory: self.directory.file("ledgers"))
            )
            self.pool = NIOThreadPool(numberOfThreads: 1)
            self.pool.start()
            self.channel = try await NIOAsyncTestingChannel { [store = self.store, pool = self.pool] channel in
                if let before { try channel.pipeline.syncOperations.addHandler(before) }
                try channel.pipeline.syncOperations.addHandler(
                    BookieRequestHandler(
                        processor: BookieRequestProcessor(
                            store: store, blockingPool: pool, metrics: BookieMetrics(), keys: keys,
                            info: { BookieInfo(freeBytes: 1, totalBytes: 2, readOnly: false) }
                        ),
                        maximumFrameSize: 1 << 16, maxPendingRequests: maxPendingRequests
                    )
                )
            }
            try await self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3181))
        }

        /// Sends `bytes` and returns the next response written.
        func exchange(_ bytes: ByteBuffer) async throws -> BookieResponse {
            try await self.channel.writeInbound(bytes)
            return try await self.nextResponse()
        }

        func nextResponse() async throws -> BookieResponse {
            var written = try await self.channel.waitForOutboundWrite(as: ByteBuffer.self)
            var frames: [BookieFrame] = []
            var reader = BookieFrameReader()
            try reader.read(written) { frames.append($0) }
            written.moveReaderIndex(forwardBy: written.readableBytes)
            #expect(frames.count == 1, "one response per write here: \(frames)")
            return try BookieResponse(parsing: try #require(frames.first))
        }

        func stop() async throws {
            _ = try? await self.channel.finish()
            try await self.pool.shutdownGracefully()
            self.store.close()
            self.directory.remove()
        }
    }

    /// A frame with a well-formed header and `body` as its body.
    static func frame(type: UInt8, requestID: UInt64, body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(BookieFrame.headerSize + body.count), BookieFrame.version, type, UInt16(0), requestID)
        buffer.writeBytes(body)
        return buffer
    }

    @Test func aMalformedRequestIsAnsweredBadRequestAndTheConnectionServesOn() async throws {
        let fixture = try await Fixture()
        // An add (type 1) whose body is three bytes: no entry, no key.
        let answer = try await fixture.exchange(Self.frame(type: 1, requestID: 41, body: [1, 2, 3]))
        #expect(answer.requestID == 41 && answer.status == .badRequest, "\(answer)")
        let info = try await fixture.exchange(BookieRequest(requestID: 42, .getInfo).bytes)
        #expect(info.requestID == 42 && info.status == .ok, "\(info)")
        try await fixture.stop()
    }

    @Test func anUnknownRequestTypeIsAnsweredBadRequest() async throws {
        let fixture = try await Fixture()
        let answer = try await fixture.exchange(Self.frame(type: 99, requestID: 7, body: []))
        #expect(answer.requestID == 7 && answer.status == .badRequest, "\(answer)")
        #expect(fixture.channel.isActive)
        try await fixture.stop()
    }

    @Test func aFrameTooLargeClosesTheConnection() async throws {
        let fixture = try await Fixture()
        var buffer = ByteBuffer()
        buffer.writeMultipleIntegers(UInt32(1 << 20), BookieFrame.version, UInt8(1), UInt16(0), UInt64(5))
        try await fixture.channel.writeInbound(buffer)
        try await fixture.channel.closeFuture.get()
        try await fixture.stop()
    }

    @Test func anAddThenAReadReturnsTheEntry() async throws {
        let fixture = try await Fixture()
        let entry = BookieServerTests.entry(3, 0)
        let added = try await fixture.exchange(BookieRequest(requestID: 1, .add(entry: entry, ledgerKey: BookieServerTests.key, recovery: false)).bytes)
        #expect(added.status == .ok, "\(added)")
        guard case .add(let ledgerID, let entryID) = added.body else {
            Issue.record("not an add answer: \(added)")
            return try await fixture.stop()
        }
        #expect(ledgerID == 3 && entryID == 0)
        let read = try await fixture.exchange(BookieRequest(requestID: 2, .read(ReadRequest(ledgerID: 3, firstEntryID: 0))).bytes)
        guard case .read(_, _, _, let entries) = read.body else {
            Issue.record("not a read answer: \(read)")
            return try await fixture.stop()
        }
        #expect(entries == [entry])
        let missing = try await fixture.exchange(BookieRequest(requestID: 3, .read(ReadRequest(ledgerID: 3, firstEntryID: 5))).bytes)
        #expect(missing.status == .noEntry, "\(missing)")
        try await fixture.stop()
    }

    @Test func aFenceRefusesLaterAddsAndAnswersTheLAC() async throws {
        let fixture = try await Fixture()
        for entryID in 0..<3 as Range<UInt64> {
            let added = try await fixture.exchange(
                BookieRequest(requestID: entryID, .add(entry: BookieServerTests.entry(4, entryID), ledgerKey: BookieServerTests.key, recovery: false)).bytes
            )
            #expect(added.status == .ok, "\(added)")
        }
        let wrongKey = try await fixture.exchange(
            BookieRequest(requestID: 10, .read(ReadRequest(ledgerID: 4, firstEntryID: 0, fence: true, ledgerKey: Array("other".utf8)))).bytes
        )
        #expect(wrongKey.status == .unauthorized, "\(wrongKey)")
        let fenced = try await fixture.exchange(
            BookieRequest(requestID: 11, .read(ReadRequest(ledgerID: 4, firstEntryID: 2, fence: true, ledgerKey: BookieServerTests.key))).bytes
        )
        guard case .read(_, _, let lac, let entries) = fenced.body else {
            Issue.record("not a read answer: \(fenced)")
            return try await fixture.stop()
        }
        // Entry 2 says entry 1 is confirmed.
        #expect(lac == 1 && entries == [BookieServerTests.entry(4, 2)], "\(fenced)")
        let refused = try await fixture.exchange(
            BookieRequest(requestID: 12, .add(entry: BookieServerTests.entry(4, 3), ledgerKey: BookieServerTests.key, recovery: false)).bytes
        )
        #expect(refused.status == .fenced, "\(refused)")
        let recovery = try await fixture.exchange(
            BookieRequest(requestID: 13, .add(entry: BookieServerTests.entry(4, 3), ledgerKey: BookieServerTests.key, recovery: true)).bytes
        )
        #expect(recovery.status == .ok, "a recovery add is taken after the fence: \(recovery)")
        try await fixture.stop()
    }
}
