public import NIOCore

/// The operations a bookie serves.
public enum BookieOperation: UInt8, Hashable, Sendable, CaseIterable {
    case add = 1
    case read = 2
    case readLAC = 3
    case writeLAC = 4
    case getInfo = 5
}

/// A request to a bookie. The body is boxed, so the value stays small in a pipeline.
public struct BookieRequest: Hashable, Sendable {
    public var requestID: UInt64
    public var body: Body

    public init(requestID: UInt64, _ body: Body) {
        self.requestID = requestID
        self.body = body
    }

    public indirect enum Body: Hashable, Sendable {
        /// Store an encoded ``LedgerEntry``. A recovery add is accepted by a fenced ledger
        /// and by a read-only bookie.
        case add(entry: ByteBuffer, ledgerKey: [UInt8], recovery: Bool)
        /// Read up to `maxEntries` consecutive entries (and at most `maxBytes`, but always
        /// at least one) from `firstEntryID`. With `fence`, fence the ledger first; a fencing
        /// read of an entry the bookie does not have answers OK with no entries (and the
        /// LAC), since a fenced ledger can no longer gain it. With a long poll, wait up to
        /// `timeoutMilliseconds` for the LAC to pass `previousLAC`.
        case read(ReadRequest)
        /// The highest LAC the bookie knows for the ledger.
        case readLAC(ledgerID: UInt64)
        /// Record an explicit LAC (for ledgers idle after their last add).
        case writeLAC(ledgerID: UInt64, lastAddConfirmed: Int64, ledgerKey: [UInt8])
        /// Disk space and writability.
        case getInfo
    }

    public var operation: BookieOperation {
        switch self.body {
        case .add: .add
        case .read: .read
        case .readLAC: .readLAC
        case .writeLAC: .writeLAC
        case .getInfo: .getInfo
        }
    }
}

/// The parameters of a READ.
public struct ReadRequest: Hashable, Sendable {
    public struct LongPoll: Hashable, Sendable {
        public var previousLAC: Int64
        public var timeoutMilliseconds: UInt32
        public init(previousLAC: Int64, timeoutMilliseconds: UInt32) {
            self.previousLAC = previousLAC
            self.timeoutMilliseconds = timeoutMilliseconds
        }
    }

    public var ledgerID: UInt64
    public var firstEntryID: UInt64
    public var maxEntries: UInt32
    public var maxBytes: UInt32
    public var fence: Bool
    /// Required with `fence`: only the ledger's key may fence it.
    public var ledgerKey: [UInt8]
    public var longPoll: LongPoll?

    public init(
        ledgerID: UInt64,
        firstEntryID: UInt64,
        maxEntries: UInt32 = 1,
        maxBytes: UInt32 = .max,
        fence: Bool = false,
        ledgerKey: [UInt8] = [],
        longPoll: LongPoll? = nil
    ) {
        self.ledgerID = ledgerID
        self.firstEntryID = firstEntryID
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.fence = fence
        self.ledgerKey = ledgerKey
        self.longPoll = longPoll
    }
}

/// Flag bits of a request frame.
enum RequestFlags {
    static let recovery: UInt16 = 1 << 0
    static let fence: UInt16 = 1 << 1
    static let longPoll: UInt16 = 1 << 2
}

/// The longest ledger key accepted.
let maximumLedgerKeySize = 256

extension BookieRequest {
    /// Appends the request's frame to `buffer`.
    /// Writes an ADD frame up to the entry's payload, which the caller sends next as its own
    /// buffer (a vectored write: the payload is never copied). The frame's length covers
    /// the payload.
    public static func writeAddHead(requestID: UInt64, entry: LedgerEntry, ledgerKey: [UInt8], recovery: Bool, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        BookieFrame.write(
            type: BookieOperation.add.rawValue, flags: recovery ? RequestFlags.recovery : 0, requestID: requestID, into: &buffer
        ) { buffer in
            buffer.writeLedgerKey(ledgerKey)
            entry.writeHeader(into: &buffer)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4 + entry.payload.readableBytes), at: start)
    }

    /// Like ``writeAddHead(requestID:entry:ledgerKey:recovery:into:)``, with the entry's
    /// digest computed before (``LedgerEntry/digest``): a writer digests an entry once and
    /// frames it for each bookie of its write set with this.
    public static func writeAddHead(
        requestID: UInt64, entry: LedgerEntry, digest: UInt32, ledgerKey: [UInt8], recovery: Bool, into buffer: inout ByteBuffer
    ) {
        let start = buffer.writerIndex
        BookieFrame.write(
            type: BookieOperation.add.rawValue, flags: recovery ? RequestFlags.recovery : 0, requestID: requestID, into: &buffer
        ) { buffer in
            buffer.writeLedgerKey(ledgerKey)
            entry.writeHeader(into: &buffer, digest: digest)
        }
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4 + entry.payload.readableBytes), at: start)
    }

    public func write(into buffer: inout ByteBuffer) {
        var flags: UInt16 = 0
        switch self.body {
        case .add(_, _, let recovery):
            if recovery { flags |= RequestFlags.recovery }
        case .read(let read):
            if read.fence { flags |= RequestFlags.fence }
            if read.longPoll != nil { flags |= RequestFlags.longPoll }
        case .readLAC, .writeLAC, .getInfo:
            break
        }
        BookieFrame.write(type: self.operation.rawValue, flags: flags, requestID: self.requestID, into: &buffer) { buffer in
            switch self.body {
            case .add(let entry, let key, _):
                buffer.writeLedgerKey(key)
                buffer.writeImmutableBuffer(entry)
            case .read(let read):
                buffer.writeMultipleIntegers(read.ledgerID, read.firstEntryID, read.maxEntries, read.maxBytes)
                buffer.writeLedgerKey(read.ledgerKey)
                if let poll = read.longPoll {
                    buffer.writeMultipleIntegers(UInt64(bitPattern: poll.previousLAC), poll.timeoutMilliseconds)
                }
            case .readLAC(let ledgerID):
                buffer.writeInteger(ledgerID)
            case .writeLAC(let ledgerID, let lac, let key):
                buffer.writeMultipleIntegers(ledgerID, UInt64(bitPattern: lac))
                buffer.writeLedgerKey(key)
            case .getInfo:
                break
            }
        }
    }

    /// Parses a request frame. Errors carry the frame's request id so the sender can be
    /// answered with `badRequest`.
    public init(parsing frame: BookieFrame) throws(BookieWireError) {
        guard !frame.isResponse, let operation = BookieOperation(rawValue: frame.type) else {
            throw BookieWireError(.unknownOperation, "unknown operation \(frame.type)", requestID: frame.requestID)
        }
        var body = frame.body
        let id = frame.requestID
        func malformed(_ what: String) -> BookieWireError {
            BookieWireError(.malformedFrame, "\(operation) request \(id): \(what)", requestID: id)
        }
        switch operation {
        case .add:
            guard let key = body.readLedgerKey() else { throw malformed("bad ledger key") }
            guard body.readableBytes >= LedgerEntry.headerSize else { throw malformed("the entry is shorter than its header") }
            self.init(requestID: id, .add(entry: body, ledgerKey: key, recovery: frame.flags & RequestFlags.recovery != 0))
            return
        case .read:
            guard let (ledgerID, first, maxEntries, maxBytes) = body.readMultipleIntegers(as: (UInt64, UInt64, UInt32, UInt32).self),
                let key = body.readLedgerKey()
            else { throw malformed("truncated read parameters") }
            var longPoll: ReadRequest.LongPoll?
            if frame.flags & RequestFlags.longPoll != 0 {
                guard let (previous, timeout) = body.readMultipleIntegers(as: (UInt64, UInt32).self) else {
                    throw malformed("truncated long-poll parameters")
                }
                longPoll = .init(previousLAC: Int64(bitPattern: previous), timeoutMilliseconds: timeout)
            }
            let read = ReadRequest(
                ledgerID: ledgerID, firstEntryID: first, maxEntries: maxEntries, maxBytes: maxBytes,
                fence: frame.flags & RequestFlags.fence != 0, ledgerKey: key, longPoll: longPoll
            )
            guard read.maxEntries >= 1 else { throw malformed("maxEntries must be at least 1") }
            self.init(requestID: id, .read(read))
        case .readLAC:
            guard let ledgerID = body.readInteger(as: UInt64.self) else { throw malformed("missing ledger id") }
            self.init(requestID: id, .readLAC(ledgerID: ledgerID))
        case .writeLAC:
            guard let (ledgerID, lac) = body.readMultipleIntegers(as: (UInt64, UInt64).self), let key = body.readLedgerKey() else {
                throw malformed("truncated parameters")
            }
            self.init(requestID: id, .writeLAC(ledgerID: ledgerID, lastAddConfirmed: Int64(bitPattern: lac), ledgerKey: key))
        case .getInfo:
            self.init(requestID: id, .getInfo)
        }
        guard body.readableBytes == 0 else { throw malformed("\(body.readableBytes) unexpected trailing bytes") }
    }
}

extension ByteBuffer {
    mutating func writeLedgerKey(_ key: [UInt8]) {
        self.writeInteger(UInt16(key.count))
        self.writeBytes(key)
    }

    mutating func readLedgerKey() -> [UInt8]? {
        guard let count = self.getInteger(at: self.readerIndex, as: UInt16.self), Int(count) <= maximumLedgerKeySize,
            self.readableBytes >= 2 + Int(count)
        else { return nil }
        self.moveReaderIndex(forwardBy: 2)
        return self.readBytes(length: Int(count))
    }
}
