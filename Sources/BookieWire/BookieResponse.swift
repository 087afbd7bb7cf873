public import NIOCore

/// A bookie's answer to one request, matched to it by `requestID`.
public struct BookieResponse: Hashable, Sendable {
    public var requestID: UInt64
    public var status: BookieStatus
    public var body: Body

    public init(requestID: UInt64, status: BookieStatus = .ok, _ body: Body) {
        self.requestID = requestID
        self.status = status
        self.body = body
    }

    public indirect enum Body: Hashable, Sendable {
        case add(ledgerID: UInt64, entryID: UInt64)
        /// Encoded ``LedgerEntry``s from `firstEntryID` on, with the bookie's LAC for the ledger.
        case read(ledgerID: UInt64, firstEntryID: UInt64, lastAddConfirmed: Int64, entries: [ByteBuffer])
        case readLAC(ledgerID: UInt64, lastAddConfirmed: Int64)
        case writeLAC(ledgerID: UInt64)
        case getInfo(BookieInfo)
        /// Any non-OK answer: what failed, said for a person.
        case failure(operation: BookieOperation, message: String)
    }

    /// A failure answer to `operation`.
    public static func failure(_ requestID: UInt64, _ operation: BookieOperation, _ status: BookieStatus, _ message: String) -> Self {
        BookieResponse(requestID: requestID, status: status, .failure(operation: operation, message: message))
    }

    public var operation: BookieOperation {
        switch self.body {
        case .add: .add
        case .read: .read
        case .readLAC: .readLAC
        case .writeLAC: .writeLAC
        case .getInfo: .getInfo
        case .failure(let operation, _): operation
        }
    }
}

/// A bookie's disk space and whether it takes new entries.
public struct BookieInfo: Hashable, Sendable {
    public var freeBytes: UInt64
    public var totalBytes: UInt64
    public var readOnly: Bool

    public init(freeBytes: UInt64, totalBytes: UInt64, readOnly: Bool) {
        self.freeBytes = freeBytes
        self.totalBytes = totalBytes
        self.readOnly = readOnly
    }
}

extension BookieResponse {
    /// Appends the response's frame to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        let type = self.operation.rawValue | 0x80
        BookieFrame.write(type: type, flags: self.status.rawValue, requestID: self.requestID, into: &buffer) { buffer in
            switch self.body {
            case .add(let ledgerID, let entryID):
                buffer.writeMultipleIntegers(ledgerID, entryID)
            case .read(let ledgerID, let first, let lac, let entries):
                buffer.writeMultipleIntegers(ledgerID, first, UInt64(bitPattern: lac), UInt32(entries.count))
                for entry in entries {
                    buffer.writeInteger(UInt32(entry.readableBytes))
                    buffer.writeImmutableBuffer(entry)
                }
            case .readLAC(let ledgerID, let lac):
                buffer.writeMultipleIntegers(ledgerID, UInt64(bitPattern: lac))
            case .writeLAC(let ledgerID):
                buffer.writeInteger(ledgerID)
            case .getInfo(let info):
                buffer.writeMultipleIntegers(info.freeBytes, info.totalBytes, UInt8(info.readOnly ? 1 : 0))
            case .failure(_, let message):
                let text = message.utf8.prefix(Int(UInt16.max))
                buffer.writeInteger(UInt16(text.count))
                buffer.writeBytes(text)
            }
        }
    }

    /// Parses a response frame. Entry bodies of a read stay slices of the frame.
    public init(parsing frame: BookieFrame) throws(BookieWireError) {
        guard frame.isResponse, let operation = BookieOperation(rawValue: frame.type & 0x7F) else {
            throw BookieWireError(.unknownOperation, "unknown response type \(frame.type)", requestID: frame.requestID)
        }
        var body = frame.body
        let id = frame.requestID
        let status = BookieStatus(rawValue: frame.flags)
        func malformed(_ what: String) -> BookieWireError {
            BookieWireError(.malformedFrame, "\(operation) response \(id): \(what)", requestID: id)
        }
        if status != .ok {
            guard let count = body.readInteger(as: UInt16.self), let message = body.readString(length: Int(count)) else {
                throw malformed("truncated failure message")
            }
            self.init(requestID: id, status: status, .failure(operation: operation, message: message))
        } else {
            switch operation {
            case .add:
                guard let (ledgerID, entryID) = body.readMultipleIntegers(as: (UInt64, UInt64).self) else {
                    throw malformed("truncated")
                }
                self.init(requestID: id, .add(ledgerID: ledgerID, entryID: entryID))
            case .read:
                guard let (ledgerID, first, lac, count) = body.readMultipleIntegers(as: (UInt64, UInt64, UInt64, UInt32).self) else {
                    throw malformed("truncated")
                }
                // Each entry needs at least its 4-byte length: bound the count before reserving.
                guard Int(count) <= body.readableBytes / 4 else { throw malformed("claims \(count) entries") }
                var entries: [ByteBuffer] = []
                entries.reserveCapacity(Int(count))
                for index in 0..<Int(count) {
                    guard let length = body.readInteger(as: UInt32.self), let entry = body.readSlice(length: Int(length)) else {
                        throw malformed("entry \(index) of \(count) is truncated")
                    }
                    entries.append(entry)
                }
                self.init(requestID: id, .read(ledgerID: ledgerID, firstEntryID: first, lastAddConfirmed: Int64(bitPattern: lac), entries: entries))
            case .readLAC:
                guard let (ledgerID, lac) = body.readMultipleIntegers(as: (UInt64, UInt64).self) else { throw malformed("truncated") }
                self.init(requestID: id, .readLAC(ledgerID: ledgerID, lastAddConfirmed: Int64(bitPattern: lac)))
            case .writeLAC:
                guard let ledgerID = body.readInteger(as: UInt64.self) else { throw malformed("truncated") }
                self.init(requestID: id, .writeLAC(ledgerID: ledgerID))
            case .getInfo:
                guard let (free, total, readOnly) = body.readMultipleIntegers(as: (UInt64, UInt64, UInt8).self) else {
                    throw malformed("truncated")
                }
                self.init(requestID: id, .getInfo(BookieInfo(freeBytes: free, totalBytes: total, readOnly: readOnly != 0)))
            }
        }
        guard body.readableBytes == 0 else { throw malformed("\(body.readableBytes) unexpected trailing bytes") }
    }
}
