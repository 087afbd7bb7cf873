public import BookieStorage
public import BookieWire
public import NIOCore
public import NIOPosix

/// The bookie's network front: accepts connections and serves the bookie protocol on
/// them against a ``BookieStore``.
public final class BookieServer: Sendable {
    /// Where to listen and what to accept. Defaults are in each field's comment.
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port (see ``localPort``).
        public var port: Int
        /// Frames above this size are refused before they are buffered (default 8 MiB).
        public var maximumFrameSize: Int

        public init(host: String, port: Int, maximumFrameSize: Int = BookieFrame.defaultMaximumSize) {
            self.host = host
            self.port = port
            self.maximumFrameSize = maximumFrameSize
        }
    }

    private let channel: any Channel

    /// The port the server listens on.
    public var localPort: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds and starts serving. `info` answers GET_INFO (disk space, writability).
    public static func start(
        _ configuration: Configuration,
        store: BookieStore,
        group: any EventLoopGroup,
        blockingPool: NIOThreadPool,
        metrics: BookieMetrics = BookieMetrics(),
        info: @escaping @Sendable () -> BookieInfo
    ) async throws -> BookieServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        BookieRequestHandler(
                            store: store, blockingPool: blockingPool, metrics: metrics, maximumFrameSize: configuration.maximumFrameSize, info: info
                        )
                    )
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return BookieServer(channel: channel)
    }

    /// Stops accepting connections.
    public func close() async throws {
        try await self.channel.close()
    }
}
