import Hummingbird
import Logging
import MagnetarHTTP
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// A response as a test client received it.
struct ReceivedResponse: Sendable {
    var head: HTTPResponseHead
    var body: String

    var status: HTTPResponseStatus { self.head.status }
    func header(_ name: String) -> String? { self.head.headers.first(name: name) }
}

/// Starts a server on a free loopback port, runs `body` with the port, and stops the server.
func withServer<Result: Sendable>(
    _ router: Router<BasicRequestContext>,
    idleTimeout: Duration = HTTPServer.defaultIdleTimeout,
    _ body: (Int) async throws -> Result
) async throws -> Result {
    let server = HTTPServer(host: "127.0.0.1", port: 0, router: router, idleTimeout: idleTimeout, logger: Logger(label: "test-http"))
    async let serving: Void = server.run()
    do {
        let result = try await body(try await server.boundPort())
        server.stop()
        try await serving
        return result
    } catch {
        server.stop()
        try? await serving
        throw error
    }
}

/// One HTTP/1.1 client connection made of NIO's client handlers.
struct HTTPTestConnection {
    private var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    private let requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes the connection.
    static func with<Result: Sendable>(
        port: Int,
        _ body: (inout HTTPTestConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = HTTPTestConnection(responses: inbound.makeAsyncIterator(), requests: outbound)
            return try await body(&connection)
        }
    }

    private init(
        responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    ) {
        self.responses = responses
        self.requests = requests
    }

    /// Sends a request: head, body chunks and (unless `end` is false) the end, in one flush.
    func send(
        _ method: HTTPMethod,
        _ uri: String,
        headers: HTTPHeaders = [:],
        chunks: [String] = [],
        end: Bool = true
    ) async throws {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        head.headers.replaceOrAdd(name: "host", value: "localhost")
        var parts: [HTTPClientRequestPart] = [.head(head)]
        parts += chunks.map { .body(.byteBuffer(ByteBuffer(string: $0))) }
        if end { parts.append(.end(nil)) }
        try await self.requests.write(contentsOf: parts)
    }

    /// The next complete response, or nil once the server has closed the connection.
    mutating func response() async throws -> ReceivedResponse? {
        guard case .head(let head) = try await self.responses.next() else { return nil }
        var body = ByteBuffer()
        while let part = try await self.responses.next() {
            switch part {
            case .head: Issue.record("second head before end")
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end: return ReceivedResponse(head: head, body: String(buffer: body))
            }
        }
        return nil
    }

    /// Sends a request and waits for its response.
    mutating func request(_ method: HTTPMethod, _ uri: String, headers: HTTPHeaders = [:], body: String? = nil)
        async throws -> ReceivedResponse?
    {
        try await self.send(method, uri, headers: headers, chunks: body.map { [$0] } ?? [])
        return try await self.response()
    }
}

/// Writes `bytes` on a raw TCP connection to 127.0.0.1:`port` and returns everything
/// the server sends until it closes the connection.
func rawExchange(port: Int, _ bytes: String) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: bytes))
        var received = ByteBuffer()
        for try await var chunk in inbound { received.writeBuffer(&chunk) }
        return String(buffer: received)
    }
}
