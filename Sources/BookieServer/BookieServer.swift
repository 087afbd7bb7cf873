public import BookieStorage
public import BookieWire
public import NIOCore
public import NIOPosix
import Synchronization

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
        /// Requests of one connection read and not yet answered past which the bookie stops
        /// reading that connection, until half of them are answered (default 10 000).
        public var maxPendingRequestsPerConnection: Int

        public init(
            host: String, port: Int, maximumFrameSize: Int = BookieFrame.defaultMaximumSize,
            maxPendingRequestsPerConnection: Int = BookieRequestHandler.defaultMaxPendingRequests
        ) {
            self.host = host
            self.port = port
            self.maximumFrameSize = maximumFrameSize
            self.maxPendingRequestsPerConnection = max(1, maxPendingRequestsPerConnection)
        }
    }

    /// What connections are served with, once the store is open.
    struct Serving: Sendable {
        var processor: BookieRequestProcessor
        var blockingPool: NIOThreadPool
    }

    /// Where the connection initializer finds what to serve with, and the connections
    /// open now (closed when the server stops). Each lock is taken alone, never inside the
    /// other.
    final class Slot: Sendable {
        let serving = Mutex<Serving?>(nil)
        let connections = Mutex(Connections())
        let inFlight = InFlightRequests()
    }

    /// The connections open now, by id; after `closed`, new ones are closed at once.
    struct Connections {
        var open: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    let channel: any Channel
    let slot: Slot

    /// The port the server listens on.
    public var localPort: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, slot: Slot) {
        self.channel = channel
        self.slot = slot
    }

    /// Binds and starts serving. `info` answers GET_INFO (disk space, writability).
    public static func start(
        _ configuration: Configuration,
        store: BookieStore,
        group: any EventLoopGroup,
        blockingPool: NIOThreadPool,
        metrics: BookieMetrics = BookieMetrics(),
        keys: any LedgerKeyAuthority,
        info: @escaping @Sendable () -> BookieInfo
    ) async throws -> BookieServer {
        let server = try await Self.bind(configuration, group: group)
        try await server.serve(store: store, blockingPool: blockingPool, metrics: metrics, keys: keys, info: info)
        return server
    }

    /// Binds the port without accepting connections yet (they wait in the backlog until
    /// ``serve(store:blockingPool:metrics:keys:info:)``), so that a bookie whose port is taken
    /// fails before it touches its data directories.
    public static func bind(_ configuration: Configuration, group: any EventLoopGroup) async throws -> BookieServer {
        let slot = Slot()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let serving = slot.serving.withLock({ $0 }), slot.track(channel) else { throw ChannelError.ioOnClosedChannel }
                    let handler = BookieRequestHandler(
                        processor: serving.processor, maximumFrameSize: configuration.maximumFrameSize,
                        maxPendingRequests: configuration.maxPendingRequestsPerConnection
                    )
                    handler.inFlight = slot.inFlight
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return BookieServer(channel: channel, slot: slot)
    }

    /// Starts accepting connections, serving them against `store`.
    public func serve(
        store: BookieStore,
        blockingPool: NIOThreadPool,
        metrics: BookieMetrics = BookieMetrics(),
        keys: any LedgerKeyAuthority,
        info: @escaping @Sendable () -> BookieInfo
    ) async throws {
        let processor = BookieRequestProcessor(store: store, blockingPool: blockingPool, metrics: metrics, keys: keys, info: info)
        self.slot.serving.withLock { $0 = Serving(processor: processor, blockingPool: blockingPool) }
        try await self.channel.setOption(.autoRead, value: true).get()
    }

    /// Stops accepting connections (those open stay open; ``run()`` closes them too).
    public func close() async throws {
        try await self.channel.close()
    }
}
