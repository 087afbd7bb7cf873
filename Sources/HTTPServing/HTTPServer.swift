public import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server for metrics, health and admin endpoints, answering requests
/// through an ``HTTPRouter``.
///
/// Guarantees: keep-alive and pipelined requests are answered in order, one at a time per
/// connection; handlers run off the event loops; a body over `maxBodySize` is answered
/// with 413 as soon as its size is known (from `content-length`, or while chunks arrive)
/// and its connection closed, without buffering it; malformed HTTP gets a 400 and its
/// connection closed, leaving other connections alone.
public final class HTTPServer: Sendable {
    /// The default limit on a request body: 1 MiB.
    public static let defaultMaxBodySize = 1 << 20

    private let channel: any Channel

    /// The port the server listens on.
    public var localPort: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port` (port 0 picks a free one, see ``localPort``) and starts serving.
    public static func start(
        host: String,
        port: Int,
        router: HTTPRouter,
        group: any EventLoopGroup,
        maxBodySize: Int = HTTPServer.defaultMaxBodySize
    ) async throws -> HTTPServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPServerHandler(router: router, maxBodySize: maxBodySize)
                    )
                }
            }
            .bind(host: host, port: port)
            .get()
        return HTTPServer(channel: channel)
    }

    /// Stops accepting connections. Connections already open stay served until their
    /// clients close them (or the event loop group shuts down).
    public func close() async throws {
        try await self.channel.close()
    }
}
