import BookieWire
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct LedgerEntryTests {
    static let entry = LedgerEntry(ledgerID: 7, entryID: 42, lastAddConfirmed: 41, ledgerLength: 4096, payload: ByteBuffer(string: "payload bytes"))

    static func encoded(_ entry: LedgerEntry = Self.entry) -> ByteBuffer {
        var buffer = ByteBuffer()
        entry.write(into: &buffer)
        return buffer
    }

    @Test func roundTrip() throws {
        let buffer = Self.encoded()
        #expect(buffer.readableBytes == Self.entry.encodedSize)
        #expect(try LedgerEntry(decoding: buffer) == Self.entry)
        let first = LedgerEntry(ledgerID: 1, entryID: 0, lastAddConfirmed: -1, ledgerLength: 0, payload: ByteBuffer())
        #expect(try LedgerEntry(decoding: Self.encoded(first)) == first)
    }

    @Test func everyFlippedBitIsDetected() throws {
        let buffer = Self.encoded()
        for index in 0..<buffer.readableBytes {
            for bit in 0..<8 {
                var damaged = buffer
                damaged.setInteger(damaged.getInteger(at: index, as: UInt8.self)! ^ (1 << bit), at: index)
                let error = #expect(throws: BookieWireError.self) { try LedgerEntry(decoding: damaged) }
                #expect(error?.code == .corruptEntry, "byte \(index) bit \(bit)")
            }
        }
    }

    @Test func shortInputIsMalformed() {
        let error = #expect(throws: BookieWireError.self) {
            try LedgerEntry(decoding: ByteBuffer(bytes: [UInt8](repeating: 0, count: LedgerEntry.headerSize - 1)))
        }
        #expect(error?.code == .malformedFrame)
    }
}

@Suite struct BookieFrameTests {
    static let requests: [BookieRequest] = [
        BookieRequest(requestID: 1, .add(entry: LedgerEntryTests.encoded(), ledgerKey: Array("key".utf8), recovery: false)),
        BookieRequest(requestID: 2, .add(entry: LedgerEntryTests.encoded(), ledgerKey: [], recovery: true)),
        BookieRequest(requestID: 3, .read(ReadRequest(ledgerID: 7, firstEntryID: 0))),
        BookieRequest(requestID: 4, .read(ReadRequest(ledgerID: 7, firstEntryID: 5, maxEntries: 100, maxBytes: 1 << 20, fence: true, ledgerKey: [1, 2]))),
        BookieRequest(requestID: 5, .read(ReadRequest(ledgerID: 7, firstEntryID: 9, longPoll: .init(previousLAC: -1, timeoutMilliseconds: 500)))),
        BookieRequest(requestID: 6, .readLAC(ledgerID: 9)),
        BookieRequest(requestID: 7, .writeLAC(ledgerID: 9, lastAddConfirmed: 77, ledgerKey: [9])),
        BookieRequest(requestID: .max, .getInfo),
    ]

    static let responses: [BookieResponse] = [
        BookieResponse(requestID: 1, .add(ledgerID: 7, entryID: 42)),
        BookieResponse(requestID: 2, .read(ledgerID: 7, firstEntryID: 42, lastAddConfirmed: 41, entries: [LedgerEntryTests.encoded(), LedgerEntryTests.encoded()])),
        BookieResponse(requestID: 3, .read(ledgerID: 7, firstEntryID: 0, lastAddConfirmed: -1, entries: [])),
        BookieResponse(requestID: 4, .readLAC(ledgerID: 7, lastAddConfirmed: 12)),
        BookieResponse(requestID: 5, .writeLAC(ledgerID: 7)),
        BookieResponse(requestID: 6, .getInfo(BookieInfo(freeBytes: 10, totalBytes: 20, readOnly: true))),
        .failure(7, .add, .fenced, "ledger 7 is fenced"),
        .failure(8, .read, .unknownLedgerState, "ledger 7 may have lost entries"),
    ]

    static func frames(of requests: [BookieRequest]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for request in requests { request.write(into: &buffer) }
        return buffer
    }

    static func decodeAll(_ bytes: ByteBuffer, maximum: Int = BookieFrame.defaultMaximumSize) throws -> [BookieFrame] {
        var decoder = BookieFrameDecoder(maximumFrameSize: maximum)
        var buffer = bytes
        var frames: [BookieFrame] = []
        while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
        return frames
    }

    @Test func requestsRoundTrip() throws {
        let frames = try Self.decodeAll(Self.frames(of: Self.requests))
        #expect(try frames.map { try BookieRequest(parsing: $0) } == Self.requests)
    }

    @Test func responsesRoundTrip() throws {
        var buffer = ByteBuffer()
        for response in Self.responses { response.write(into: &buffer) }
        let frames = try Self.decodeAll(buffer)
        #expect(try frames.map { try BookieResponse(parsing: $0) } == Self.responses)
        #expect(frames.allSatisfy { $0.isResponse })
    }

    @Test func splitAndPipelinedFramesDecodeTheSame() throws {
        let bytes = Self.frames(of: Self.requests)
        let expected = try Self.decodeAll(bytes)
        #expect(expected.count == Self.requests.count)
        // The verifier feeds the input whole, byte by byte and in random splits.
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [(bytes, expected)]) {
            BookieFrameDecoder()
        }
    }

    /// The reader a handler frames with gives the same frames however the reads split the
    /// stream, and refuses an oversize frame from its length prefix.
    @Test func theFrameReaderFramesSplitReads() throws {
        let bytes = Self.frames(of: Self.requests)
        let expected = try Self.decodeAll(bytes)
        var random = SystemRandomNumberGenerator()
        let randomSplits = (0..<20).map { _ in (0..<40).map { _ in Int.random(in: 1...300, using: &random) } }
        for splits in [[bytes.readableBytes], Array(repeating: 1, count: bytes.readableBytes), [3, 17, 40, 2, 500]] + randomSplits {
            var reader = BookieFrameReader()
            var frames: [BookieFrame] = []
            var rest = bytes
            for size in splits {
                guard let piece = rest.readSlice(length: min(size, rest.readableBytes)) else { break }
                try reader.read(piece) { frames.append($0) }
            }
            if rest.readableBytes > 0 { try reader.read(rest) { frames.append($0) } }
            #expect(frames == expected)
        }
        var reader = BookieFrameReader(maximumFrameSize: 16)
        let error = #expect(throws: BookieWireError.self) { try reader.read(Self.frames(of: [Self.requests[0]])) { _ in } }
        #expect(error?.code == .frameTooLarge)
        // Refused once the prefix is whole, though it came in two reads and no body followed.
        var cut = BookieFrameReader(maximumFrameSize: 1 << 20)
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(1 << 30))
        try cut.read(prefix.getSlice(at: 0, length: 2)!) { _ in Issue.record("no frame expected") }
        let late = #expect(throws: BookieWireError.self) { try cut.read(prefix.getSlice(at: 2, length: 2)!) { _ in } }
        #expect(late?.code == .frameTooLarge)
    }

    @Test func anOversizeFrameIsRefusedFromItsLengthAlone() {
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(1 << 30))
        let error = #expect(throws: BookieWireError.self) { _ = try Self.decodeAll(prefix) }
        #expect(error?.code == .frameTooLarge)
        let small = Self.frames(of: [Self.requests[0]])
        let limited = #expect(throws: BookieWireError.self) { _ = try Self.decodeAll(small, maximum: 16) }
        #expect(limited?.code == .frameTooLarge)
    }

    @Test func aFrameTooShortForItsHeaderIsMalformed() {
        var bytes = ByteBuffer()
        bytes.writeInteger(UInt32(3))
        bytes.writeBytes([1, 1, 0])
        let error = #expect(throws: BookieWireError.self) { _ = try Self.decodeAll(bytes) }
        #expect(error?.code == .malformedFrame)
    }

    @Test func anotherVersionIsRefusedWithTheRequestID() {
        var bytes = Self.frames(of: [BookieRequest(requestID: 99, .getInfo)])
        bytes.setInteger(UInt8(2), at: 4)
        let error = #expect(throws: BookieWireError.self) { _ = try Self.decodeAll(bytes) }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.requestID == 99)
    }

    @Test func unknownOperationsAndResponsesAsRequestsAreRefused() throws {
        for type: UInt8 in [0, 6, 0x7F, 0x81] {
            let frame = BookieFrame(type: type, flags: 0, requestID: 5, body: ByteBuffer())
            let error = #expect(throws: BookieWireError.self) { try BookieRequest(parsing: frame) }
            #expect(error?.code == .unknownOperation)
            #expect(error?.requestID == 5)
        }
    }

    @Test func truncatedOrPaddedBodiesAreMalformed() throws {
        for request in Self.requests {
            var bytes = ByteBuffer()
            request.write(into: &bytes)
            let frame = try #require(try Self.decodeAll(bytes).first)
            // Every strict prefix of the body that still parses as a frame must be refused,
            // except where the body ends with an entry (whose end is the frame's end).
            if case .add = request.body { continue }
            for keep in 0..<frame.body.readableBytes {
                var cut = frame
                cut.body = frame.body.getSlice(at: frame.body.readerIndex, length: keep)!
                #expect(throws: BookieWireError.self, "\(request.operation) cut to \(keep)") { try BookieRequest(parsing: cut) }
            }
            var padded = frame
            padded.body.writeInteger(UInt8(0))
            #expect(throws: BookieWireError.self) { try BookieRequest(parsing: padded) }
        }
    }

    @Test func anOverlongLedgerKeyIsRefused() {
        let request = BookieRequest(requestID: 3, .writeLAC(ledgerID: 1, lastAddConfirmed: 0, ledgerKey: [UInt8](repeating: 1, count: 300)))
        var bytes = ByteBuffer()
        request.write(into: &bytes)
        let error = #expect(throws: BookieWireError.self) { try BookieRequest(parsing: try Self.decodeAll(bytes)[0]) }
        #expect(error?.code == .malformedFrame)
    }

    @Test func aReadResponseCannotClaimMoreEntriesThanItCarries() throws {
        var body = ByteBuffer()
        body.writeMultipleIntegers(UInt64(1), UInt64(0), UInt64(0), UInt32.max)
        let frame = BookieFrame(type: BookieOperation.read.rawValue | 0x80, flags: 0, requestID: 1, body: body)
        let error = #expect(throws: BookieWireError.self) { try BookieResponse(parsing: frame) }
        #expect(error?.code == .malformedFrame)
    }

    @Test func randomBytesNeverCrashTheDecoderOrParsers() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = ByteBuffer()
            // A plausible small length prefix, so that bodies get parsed too.
            bytes.writeInteger(UInt32.random(in: 0...64, using: &generator))
            bytes.writeInteger(BookieFrame.version)
            for _ in 0..<Int.random(in: 0...80, using: &generator) {
                bytes.writeInteger(UInt8.random(in: 0...255, using: &generator))
            }
            guard let frames = try? Self.decodeAll(bytes) else { continue }
            for frame in frames {
                _ = try? BookieRequest(parsing: frame)
                _ = try? BookieResponse(parsing: frame)
            }
        }
    }
}

@Suite("Vectored adds")
struct VectoredAddTests {
    @Test func anAddHeadFollowedByItsPayloadIsTheWholeFrame() throws {
        let payload = ByteBuffer(repeating: 0x5A, count: 3000)
        let entry = LedgerEntry(ledgerID: 12, entryID: 34, lastAddConfirmed: 33, ledgerLength: 9000, payload: payload)
        var encoded = ByteBuffer()
        entry.write(into: &encoded)
        for recovery in [false, true] {
            var whole = ByteBuffer()
            BookieRequest(requestID: 77, .add(entry: encoded, ledgerKey: [1, 2, 3], recovery: recovery)).write(into: &whole)
            var split = ByteBuffer()
            BookieRequest.writeAddHead(requestID: 77, entry: entry, ledgerKey: [1, 2, 3], recovery: recovery, into: &split)
            split.writeImmutableBuffer(payload)
            #expect(split == whole)
        }
    }
}
