import BookieServer
import BookieWire
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

extension BookieRequestHandlerTests {
    /// Counts the reads the pipeline asks the socket for.
    final class ReadCounter: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer
        let reads = NIOLockedValueBox(0)

        func read(context: ChannelHandlerContext) {
            self.reads.withLockedValue { $0 += 1 }
            context.read()
        }
    }

    /// A connection with its limit of requests awaiting answers is not read again (its
    /// reads are held back) until half of them are answered.
    @Test func aConnectionAtItsPendingLimitIsNotReadUntilHalfAreAnswered() async throws {
        let counter = ReadCounter()
        let fixture = try await Fixture(maxPendingRequests: 4, before: counter)
        let added = try await fixture.exchange(BookieRequest(requestID: 1, .add(entry: BookieServerTests.entry(3, 0), ledgerKey: BookieServerTests.key, recovery: false)).bytes)
        #expect(added.status == .ok)
        // Four long polls for the LAC to pass 0: none is answered yet.
        var polls = ByteBuffer()
        for id in 2...5 {
            BookieRequest(requestID: UInt64(id), .read(ReadRequest(ledgerID: 3, firstEntryID: 1, longPoll: .init(previousLAC: 0, timeoutMilliseconds: 30_000))))
                .write(into: &polls)
        }
        try await fixture.channel.writeInbound(polls)
        let before = counter.reads.withLockedValue { $0 }
        fixture.channel.read()
        try await Task.sleep(for: .milliseconds(100))
        #expect(counter.reads.withLockedValue { $0 } == before, "a connection at its limit was read")
        // An explicit LAC of 1 answers the four polls; reading resumes.
        try await fixture.channel.writeInbound(BookieRequest(requestID: 6, .writeLAC(ledgerID: 3, lastAddConfirmed: 1, ledgerKey: BookieServerTests.key)).bytes)
        var answered: Set<UInt64> = []
        while answered.count < 5 {
            // Answers completed together go out in one write.
            let written = try await fixture.channel.waitForOutboundWrite(as: ByteBuffer.self)
            var reader = BookieFrameReader()
            try reader.read(written) { answered.insert(try BookieResponse(parsing: $0).requestID) }
        }
        #expect(answered == [2, 3, 4, 5, 6])
        try await Task.sleep(for: .milliseconds(50))
        #expect(counter.reads.withLockedValue { $0 } > before, "reading did not resume")
        try await fixture.stop()
    }
}
