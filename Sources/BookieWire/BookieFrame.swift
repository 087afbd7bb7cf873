public import NIOCore

/// One frame of the bookie protocol, before its body is parsed:
///
///     [u32 length of what follows][u8 version][u8 type][u16 flags or status][u64 request id][body]
///
/// Requests and responses share the layout; a response's type is its request's operation
/// with the high bit set, and its third field is a ``BookieStatus`` instead of flags. All
/// integers are big-endian.
public struct BookieFrame: Hashable, Sendable {
    /// The protocol version this code speaks.
    public static let version: UInt8 = 1
    /// Bytes after the length prefix and before the body.
    public static let headerSize = 1 + 1 + 2 + 8
    /// The largest frame accepted by default: a 5 MiB message plus headers, with room.
    public static let defaultMaximumSize = 8 << 20

    public var type: UInt8
    public var flags: UInt16
    public var requestID: UInt64
    public var body: ByteBuffer

    public init(type: UInt8, flags: UInt16, requestID: UInt64, body: ByteBuffer) {
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.body = body
    }

    /// Whether this frame is a response.
    public var isResponse: Bool { self.type & 0x80 != 0 }

    /// Writes a frame whose body `writeBody` appends, filling in the length prefix after.
    static func write(
        type: UInt8,
        flags: UInt16,
        requestID: UInt64,
        into buffer: inout ByteBuffer,
        body writeBody: (inout ByteBuffer) -> Void
    ) {
        let start = buffer.writerIndex
        buffer.writeMultipleIntegers(UInt32(0), Self.version, type, flags, requestID)
        writeBody(&buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
    }
}

/// Splits a byte stream into ``BookieFrame``s, keeping bodies as slices of the input.
///
/// A length prefix above `maximumFrameSize` is rejected as soon as it is read, before any
/// of the frame is buffered; so is a frame too short for its header or of another version.
public struct BookieFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = BookieFrame

    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int = BookieFrame.defaultMaximumSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> BookieFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length <= self.maximumFrameSize else {
            throw BookieWireError(.frameTooLarge, "a frame of \(length) bytes is above the limit of \(self.maximumFrameSize)")
        }
        guard length >= BookieFrame.headerSize else {
            throw BookieWireError(.malformedFrame, "a frame of \(length) bytes cannot hold the \(BookieFrame.headerSize)-byte header")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        let (_, version, type, flags, requestID) = buffer.readMultipleIntegers(as: (UInt32, UInt8, UInt8, UInt16, UInt64).self)!
        let body = buffer.readSlice(length: Int(length) - BookieFrame.headerSize)!
        guard version == BookieFrame.version else {
            throw BookieWireError(.unsupportedVersion, "protocol version \(version) is not supported (this side speaks \(BookieFrame.version))", requestID: requestID)
        }
        return BookieFrame(type: type, flags: flags, requestID: requestID, body: body)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> BookieFrame? {
        try self.decode(buffer: &buffer)
    }
}

/// Frames a connection's bytes inside the handler that handles the frames: a frame goes
/// to it as a plain value, where a separate decoder handler would pass each one through
/// the pipeline type-erased (boxed, then cast back).
///
/// Frames are cut from each read's buffer in place, their bodies as slices of it. Only a
/// frame that one read cuts off is copied, into a buffer of its own that the next reads
/// complete; the rest of a read is never moved, however many frames it holds.
public struct BookieFrameReader {
    private var decoder: BookieFrameDecoder
    /// The start of a frame the last read cut off.
    private var partial: ByteBuffer?

    public init(maximumFrameSize: Int = BookieFrame.defaultMaximumSize) {
        self.decoder = BookieFrameDecoder(maximumFrameSize: maximumFrameSize)
    }

    /// Adds `bytes` to what was read before and calls `body` with each whole frame. Throws
    /// a ``BookieWireError`` when the stream cannot be framed; nothing can be read after.
    public mutating func read(_ bytes: ByteBuffer, _ body: (BookieFrame) throws -> Void) throws {
        var bytes = bytes
        if var partial = self.partial {
            self.partial = nil
            // Move over only what the cut frame lacks: first its length prefix, then the
            // rest (the decoder checks the length before any more is gathered).
            while true {
                if let frame = try self.decoder.decode(buffer: &partial) {
                    try body(frame)
                    break
                }
                guard bytes.readableBytes > 0 else {
                    self.partial = partial
                    return
                }
                let wanted = partial.getInteger(at: partial.readerIndex, as: UInt32.self).map { 4 + Int($0) } ?? 4
                var missing = bytes.readSlice(length: min(wanted - partial.readableBytes, bytes.readableBytes))!
                partial.writeBuffer(&missing)
            }
        }
        while let frame = try self.decoder.decode(buffer: &bytes) {
            try body(frame)
        }
        if bytes.readableBytes > 0 {
            // Copied, so that the read's buffer is not kept for a few bytes at its end.
            let length = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self).map { 4 + Int($0) } ?? 4
            var partial = ByteBufferAllocator().buffer(capacity: length)
            partial.writeBuffer(&bytes)
            self.partial = partial
        }
    }
}
