import BookieWire
import NIOCore
import NIOPosix

/// One pipelined connection to a bookie, confined to its event loop.
///
/// Requests are written as they come and flushed once per loop turn; each has its own
/// deadline. Answers are matched to requests by id. When the connection fails, every
/// outstanding request fails with it and the next request reconnects.
final class BookieConnection: BookieTransport, @unchecked Sendable {
    /// Payloads up to this size are copied into the batch; larger ones go to the socket
    /// as buffers of their own.
    static let copyLimit = 4096

    let bookieID: String
    let address: (host: String, port: Int)
    private let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var connecting = false
    /// Frames written since the last flush (or waiting for the connection), in order.
    private var batch: [ByteBuffer] = []
    private var outstanding: [UInt64: Callback] = [:]
    /// Request ids with their deadlines, oldest first; answered ones are skipped lazily.
    private var deadlines = CircularBuffer<(id: UInt64, deadline: NIODeadline)>()
    private var nextRequestID: UInt64 = 1
    private var flushScheduled = false
    private var sweeper: RepeatedTask?
    /// Told when a request fails for a reason that says the bookie is unwell.
    var onFailure: ((LedgerError) -> Void)?

    init(bookieID: String, host: String, port: Int, eventLoop: any EventLoop) {
        self.bookieID = bookieID
        self.address = (host, port)
        self.eventLoop = eventLoop
    }

    @discardableResult
    func add(_ entry: LedgerEntry, digest: UInt32, ledgerKey: [UInt8], recovery: Bool, timeout: TimeAmount, callback: @escaping Callback) -> UInt64 {
        self.sendFrame(
            timeout: timeout, payload: entry.payload,
            { id, head in
                BookieRequest.writeAddHead(requestID: id, entry: entry, digest: digest, ledgerKey: ledgerKey, recovery: recovery, into: &head)
            },
            callback: callback
        )
    }

    @discardableResult
    func send(_ request: BookieRequest.Body, timeout: TimeAmount, callback: @escaping Callback) -> UInt64 {
        self.sendFrame(timeout: timeout, payload: nil, { id, head in BookieRequest(requestID: id, request).write(into: &head) }, callback: callback)
    }

    /// Sends a request built by `writeHead` (given its request id), followed by `payload`
    /// when there is one. Requests made in one turn of the event loop leave in one write.
    /// Returns the request id (for ``cancel(_:_:)``). Must be called on the event loop.
    private func sendFrame(
        timeout: TimeAmount,
        payload: ByteBuffer? = nil,
        _ writeHead: (UInt64, inout ByteBuffer) -> Void,
        callback: @escaping Callback
    ) -> UInt64 {
        self.eventLoop.preconditionInEventLoop()
        let id = self.nextRequestID
        self.nextRequestID += 1
        defer { self.scheduleWrite() }
        self.outstanding[id] = callback
        self.deadlines.append((id, .now() + timeout))
        if self.sweeper == nil {
            let period = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 1_000_000))
            self.sweeper = self.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak self] _ in self?.sweep() }
        }
        if self.batch.isEmpty || self.batch[self.batch.count - 1].readableBytes > 256 << 10 {
            self.batch.append(ByteBufferAllocator().buffer(capacity: 16 << 10))
        }
        writeHead(id, &self.batch[self.batch.count - 1])
        if let payload {
            if payload.readableBytes <= Self.copyLimit {
                self.batch[self.batch.count - 1].writeImmutableBuffer(payload)
            } else {
                self.batch.append(payload)
                self.batch.append(ByteBufferAllocator().buffer(capacity: 4 << 10))
            }
        }
        return id
    }

    private func scheduleWrite() {
        if self.channel == nil {
            self.connect()
        } else if !self.flushScheduled {
            self.flushScheduled = true
            self.eventLoop.execute { [self] in self.writeBatch() }
        }
    }

    /// Gives up on a request: its callback runs now with `error`, and its answer, if one
    /// comes, is ignored.
    func cancel(_ id: UInt64, _ error: LedgerError) {
        self.eventLoop.preconditionInEventLoop()
        self.outstanding.removeValue(forKey: id)?(.failure(error))
    }

    private func writeBatch() {
        self.flushScheduled = false
        guard let channel = self.channel, !self.batch.isEmpty else { return }
        for buffer in self.batch where buffer.readableBytes > 0 { channel.write(buffer, promise: nil) }
        self.batch.removeAll(keepingCapacity: true)
        channel.flush()
    }

    /// Fails requests past their deadline.
    private func sweep() {
        let now = NIODeadline.now()
        while let (id, deadline) = self.deadlines.first {
            guard let callback = self.outstanding[id] else {
                self.deadlines.removeFirst()
                continue
            }
            guard deadline <= now else { break }
            self.deadlines.removeFirst()
            self.outstanding[id] = nil
            let error = LedgerError(.timeout, "bookie \(self.bookieID) did not answer in time")
            self.onFailure?(error)
            callback(.failure(error))
        }
    }

    private func connect() {
        guard !self.connecting else { return }
        self.connecting = true
        ClientBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(connection: self))
                }
            }
            .connect(host: self.address.host, port: self.address.port)
            .whenComplete { [self] result in
                self.connecting = false
                switch result {
                case .success(let channel):
                    self.channel = channel
                    self.writeBatch()
                case .failure(let error):
                    self.failAll(LedgerError(.bookieUnavailable, "cannot connect to bookie \(self.bookieID) at \(self.address.host):\(self.address.port): \(error)"))
                }
            }
    }

    fileprivate func received(_ response: BookieResponse) {
        guard let callback = self.outstanding.removeValue(forKey: response.requestID) else { return }
        callback(.success(response))
    }

    fileprivate func closed(_ error: LedgerError) {
        self.channel = nil
        self.failAll(error)
    }

    private func failAll(_ error: LedgerError) {
        self.batch.removeAll()
        self.deadlines.removeAll()
        let failed = self.outstanding
        self.outstanding.removeAll()
        if !failed.isEmpty { self.onFailure?(error) }
        for id in failed.keys.sorted() { failed[id]!(.failure(error)) }
    }

    /// Closes the connection; outstanding requests fail.
    func close() {
        self.eventLoop.preconditionInEventLoop()
        self.sweeper?.cancel()
        self.sweeper = nil
        self.channel?.close(promise: nil)
        self.channel = nil
        self.failAll(LedgerError(.bookieUnavailable, "the connection to bookie \(self.bookieID) was closed"))
    }
}

/// Hands a connection's answers to it.
private final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: BookieConnection
    private var frames = BookieFrameReader()

    init(connection: BookieConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.frames.read(Self.unwrapInboundIn(data)) { frame in
                self.connection.received(try BookieResponse(parsing: frame))
            }
        } catch {
            context.fireErrorCaught(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connection.closed(LedgerError(.bookieUnavailable, "bookie \(self.connection.bookieID) closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
