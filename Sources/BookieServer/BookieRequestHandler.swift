public import BookieWire
import Synchronization
public import NIOCore

/// Serves bookie requests on one connection: frames them, hands each frame to a
/// ``BookieRequestProcessor``, and writes its responses, each tagged with its request's id.
///
/// Responses may go out in a different order than requests came in; those completed off
/// the event loop are written in batches (one flush per batch). A stream that cannot be
/// framed (oversize, garbled length) is answered where possible and closed.
public final class BookieRequestHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let processor: BookieRequestProcessor
    private var responses: ResponseOutbox?
    private var frames: BookieFrameReader
    /// Where the server counts requests read and not answered (nil: not counted).
    var inFlight: InFlightRequests?

    public init(processor: BookieRequestProcessor, maximumFrameSize: Int = BookieFrame.defaultMaximumSize) {
        self.processor = processor
        self.frames = BookieFrameReader(maximumFrameSize: maximumFrameSize)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.frames.read(Self.unwrapInboundIn(data)) { frame in self.handle(frame, context: context) }
        } catch {
            self.errorCaught(context: context, error: error)
        }
    }

    private func handle(_ frame: BookieFrame, context: ChannelHandlerContext) {
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
        let outbox = ResponseOutbox(context: context)
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

    init(context: ChannelHandlerContext) {
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
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
        guard context.channel.isActive, !responses.isEmpty else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64 * responses.count)
        for response in responses { response.write(into: &buffer) }
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }
}
