import NIOCore
import NIOHTTP1

/// Serves one connection: collects a request's parts (refusing bodies over the limit as
/// they arrive), runs the router in a task off the event loop, and writes the response
/// back on the loop.
///
/// Sits behind NIO's `HTTPServerPipelineHandler`, which holds the next pipelined request
/// (and stops reading) until the current response's `.end` is written, so at most one
/// request per connection is in flight and responses keep request order.
final class HTTPServerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead)
        /// The router is running; the next request waits in the pipelining handler.
        case responding
        /// A 413 went out and the connection is closing; the rest of the request is dropped.
        case rejected
    }

    private let router: HTTPRouter
    private let maxBodySize: Int
    private var state = State.idle
    /// Kept out of `state` so that appending to it never copies it.
    private var body = ByteBuffer()
    private var running: Task<Void, Never>?

    init(router: HTTPRouter, maxBodySize: Int) {
        self.router = router
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (Self.unwrapInboundIn(data), self.state) {
        case (.head(let head), .idle):
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            guard declared <= self.maxBodySize else { return self.reject(context: context) }
            self.state = .receiving(head)
            self.body = declared > 0 ? context.channel.allocator.buffer(capacity: declared) : ByteBuffer()
        case (.body(let chunk), .receiving):
            guard self.body.readableBytes + chunk.readableBytes <= self.maxBodySize else {
                return self.reject(context: context)
            }
            self.body.writeImmutableBuffer(chunk)
        case (.end, .receiving(let head)):
            self.state = .responding
            let request = HTTPRequest(head: head, body: self.body)
            self.body = ByteBuffer()
            self.dispatch(request, version: head.version, keepAlive: head.isKeepAlive, context: context)
        case (_, .rejected):
            break
        case (_, .idle), (_, .receiving), (_, .responding):
            // NIO's decoder and pipelining handler never produce these orders.
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Parser errors were answered with 400 by HTTPServerProtocolErrorHandler; the
        // connection cannot be resynchronised, so end it.
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.running?.cancel()
        context.fireChannelInactive()
    }

    private func dispatch(_ request: HTTPRequest, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
        let router = self.router
        self.running = Task { promise.succeed(await router.respond(to: request)) }
        promise.futureResult.assumeIsolated().whenSuccess { response in
            self.running = nil
            self.state = .idle
            self.write(response, version: version, keepAlive: keepAlive, context: context)
        }
    }

    private func reject(context: ChannelHandlerContext) {
        self.state = .rejected
        self.body = ByteBuffer()
        let reason = "Request body is larger than \(self.maxBodySize) bytes"
        self.write(.error(.payloadTooLarge, reason: reason), version: .http1_1, keepAlive: false, context: context)
    }

    private func write(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if version == .http1_0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let written = context.writeAndFlush(Self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
