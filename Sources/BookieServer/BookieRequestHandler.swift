public import BookieWire
import Synchronization
public import NIOCore

/// Serves bookie requests on one connection: frames them, hands each frame to a
/// ``BookieRequestProcessor``, and writes its responses, each tagged with its request's id.
///
/// Responses may go out in a different order than requests came in; those completed off
/// the event loop are written in batches (one flush per batch). A connection with
/// `maxPendingRequests` requests read and not answered is not read again until half of
/// them are answered. A stream that cannot be framed (oversize, garbled length) is
/// answered where possible and closed.
public final class BookieRequestHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The default of `maxPendingRequests`.
    public static let defaultMaxPendingRequests = 10_000

    private let processor: BookieRequestProcessor
    private var responses: ResponseOutbox?
    private var frames: BookieFrameReader
    private let maxPendingRequests: Int
    /// Requests read and not yet written back, counted on the event loop.
    private var pending = 0
    /// Whether reading is paused because `pending` reached `maxPendingRequests`.
    private var paused = false
    /// Where the server counts requests read and not answered (nil: not counted).
    var inFlight: InFlightRequests?

    public init(
        processor: BookieRequestProcessor, maximumFrameSize: Int = BookieFrame.defaultMaximumSize,
        maxPendingRequests: Int = BookieRequestHandler.defaultMaxPendingRequests
    ) {
        self.processor = processor
        self.frames = BookieFrameReader(maximumFrameSize: maximumFrameSize)
        self.maxPendingRequests = max(1, maxPendingRequests)
    }

    /// Reads stop while too many requests wait for their answers.
    public func read(context: ChannelHandlerContext) {
        guard !self.paused else { return }
        context.read()
    }

    /// `count` answers were written: reading resumes once half the limit is left.
    private func answered(_ count: Int, context: ChannelHandlerContext) {
        self.pending -= count
        if self.paused, self.pending <= self.maxPendingRequests / 2 {
            self.paused = false
            context.read()
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.frames.read(Self.unwrapInboundIn(data)) { frame in self.handle(frame, context: context) }
        } catch {
            self.errorCaught(context: context, error: error)
        }
    }

    private func handle(_ frame: BookieFrame, context: ChannelHandlerContext) {
        self.pending += 1
        if self.pending >= self.maxPendingRequests { self.paused = true }
        let outbox = self.outbox(context)
        let inFlight = self.inFlight
        inFlight?.begin()
        // Called once per request, whichever thread answers it.
        self.processor.process(frame, loop: context.eventLoop) { response in
            outbox.send(response)
            inFlight?.end()
        }
    }

    private func outbox(_ context: ChannelHandlerContext) -> ResponseOutbox {
        if let outbox = self.responses { return outbox }
        let outbox = ResponseOutbox(context: context) { [weak self] count, context in self?.answered(count, context: context) }
        self.responses = outbox
        return outbox
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Framing errors: the stream cannot be trusted past this point.
        if let error = error as? BookieWireError, let id = error.requestID {
            Self.send(.failure(id, .getInfo, .badRequest, error.message), context: context)
        }
        context.close(promise: nil)
    }

    private static func send(_ response: BookieResponse, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        response.write(into: &buffer)
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
    }
}

/// Responses completed off the event loop (by the journal thread or the blocking pool),
/// written in batches: the first response queued schedules one task on the loop, which
/// writes everything queued by then as one buffer with one flush. Under load a group
/// commit's worth of acknowledgements costs one hop and one system call per connection.
private final class ResponseOutbox: Sendable {
    private struct Queue {
        var responses: [BookieResponse] = []
        var scheduled = false
    }

    private let queue = Mutex(Queue())
    private let context: NIOLoopBound<ChannelHandlerContext>
    /// Told on the loop how many responses each drain wrote.
    private let written: NIOLoopBound<(Int, ChannelHandlerContext) -> Void>

    init(context: ChannelHandlerContext, written: @escaping (Int, ChannelHandlerContext) -> Void) {
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.written = NIOLoopBound(written, eventLoop: context.eventLoop)
    }

    func send(_ response: BookieResponse) {
        let schedule = self.queue.withLock { queue in
            queue.responses.append(response)
            defer { queue.scheduled = true }
            return !queue.scheduled
        }
        if schedule { self.context.eventLoop.execute { self.drain() } }
    }

    private func drain() {
        let responses = self.queue.withLock { queue in
            queue.scheduled = false
            defer { queue.responses.removeAll(keepingCapacity: true) }
            return queue.responses
        }
        let context = self.context.value
        self.written.value(responses.count, context)
        guard context.channel.isActive, !responses.isEmpty else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64 * responses.count)
        for response in responses { response.write(into: &buffer) }
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }
}
