import BookieWire
import NIOCore
import NIOPosix

/// One pipelined connection to a bookie, confined to its event loop.
///
/// Requests are written as they come and flushed once per loop turn; each has its own
/// deadline. Answers are matched to requests by id. When the connection fails, every
/// outstanding request fails with it and the next request reconnects.
final class BookieConnection: @unchecked Sendable {
    typealias Callback = (Result<BookieResponse, LedgerError>) -> Void

    let bookieID: String
    let address: (host: String, port: Int)
    private let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var connecting = false
    /// Requests waiting for the connection: their frames and callbacks.
    private var queued: [(ByteBuffer, ByteBuffer?, UInt64)] = []
    private var outstanding: [UInt64: (callback: Callback, timeout: Scheduled<Void>)] = [:]
    private var nextRequestID: UInt64 = 1
    private var flushScheduled = false
    /// Told when a request fails for a reason that says the bookie is unwell.
    var onFailure: ((LedgerError) -> Void)?

    init(bookieID: String, host: String, port: Int, eventLoop: any EventLoop) {
        self.bookieID = bookieID
        self.address = (host, port)
        self.eventLoop = eventLoop
    }

    /// Sends a request built by `writeHead` (given its request id), followed by `payload`
    /// as a buffer of its own when there is one. Must be called on the event loop.
    func send(
        timeout: TimeAmount,
        payload: ByteBuffer? = nil,
        _ writeHead: (UInt64, inout ByteBuffer) -> Void,
        callback: @escaping Callback
    ) {
        self.eventLoop.preconditionInEventLoop()
        let id = self.nextRequestID
        self.nextRequestID += 1
        var head = ByteBufferAllocator().buffer(capacity: 96)
        writeHead(id, &head)
        let timer = self.eventLoop.scheduleTask(in: timeout) { [self] in
            guard let entry = self.outstanding.removeValue(forKey: id) else { return }
            let error = LedgerError(.timeout, "bookie \(self.bookieID) did not answer within \(timeout.nanoseconds / 1_000_000) ms")
            self.onFailure?(error)
            entry.callback(.failure(error))
        }
        self.outstanding[id] = (callback, timer)
        if let channel = self.channel {
            self.write(head, payload, on: channel)
        } else {
            self.queued.append((head, payload, id))
            self.connect()
        }
    }

    private func write(_ head: ByteBuffer, _ payload: ByteBuffer?, on channel: any Channel) {
        channel.write(head, promise: nil)
        if let payload { channel.write(payload, promise: nil) }
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        self.eventLoop.execute { [self] in
            self.flushScheduled = false
            self.channel?.flush()
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
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(BookieFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler(connection: self))
                }
            }
            .connect(host: self.address.host, port: self.address.port)
            .whenComplete { [self] result in
                self.connecting = false
                switch result {
                case .success(let channel):
                    self.channel = channel
                    let queued = self.queued
                    self.queued.removeAll()
                    for (head, payload, id) in queued where self.outstanding[id] != nil {
                        self.write(head, payload, on: channel)
                    }
                case .failure(let error):
                    self.failAll(LedgerError(.bookieUnavailable, "cannot connect to bookie \(self.bookieID) at \(self.address.host):\(self.address.port): \(error)"))
                }
            }
    }

    fileprivate func received(_ response: BookieResponse) {
        guard let entry = self.outstanding.removeValue(forKey: response.requestID) else { return }
        entry.timeout.cancel()
        entry.callback(.success(response))
    }

    fileprivate func closed(_ error: LedgerError) {
        self.channel = nil
        self.failAll(error)
    }

    private func failAll(_ error: LedgerError) {
        self.queued.removeAll()
        let failed = self.outstanding
        self.outstanding.removeAll()
        if !failed.isEmpty { self.onFailure?(error) }
        for id in failed.keys.sorted() {
            failed[id]!.timeout.cancel()
            failed[id]!.callback(.failure(error))
        }
    }

    /// Closes the connection; outstanding requests fail.
    func close() {
        self.eventLoop.preconditionInEventLoop()
        self.channel?.close(promise: nil)
        self.channel = nil
        self.failAll(LedgerError(.bookieUnavailable, "the connection to bookie \(self.bookieID) was closed"))
    }
}

/// Hands a connection's answers to it.
private final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = BookieFrame

    private let connection: BookieConnection

    init(connection: BookieConnection) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        do {
            self.connection.received(try BookieResponse(parsing: frame))
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
