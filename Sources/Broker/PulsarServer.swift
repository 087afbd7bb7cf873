import NIOCore
import NIOPosix
import PulsarWire
import ServiceLifecycle
import Synchronization

/// The Pulsar binary protocol's listening socket, as a `Service`: each accepted
/// connection runs as a child task (``PulsarConnection/run()``) of its task group. On
/// graceful shutdown it stops accepting and closes every connection still open.
final class PulsarServer: Service, Sendable {
    private let channel: NIOAsyncChannel<PulsarConnection, Never>

    /// The port it listens on.
    var port: Int { self.channel.channel.localAddress?.port ?? 0 }

    private init(channel: NIOAsyncChannel<PulsarConnection, Never>) {
        self.channel = channel
    }

    /// Binds `host:port` (port 0 picks one). Connections accepted before `shared` holds
    /// the broker's context are refused.
    static func bind(host: String, port: Int, maxMessageSize: Int, shared: ContextBox, group: any EventLoopGroup) async throws -> PulsarServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let context = shared.context else { throw BrokerError(.serviceNotReady, "the broker is starting") }
                    let address = channel.remoteAddress?.ipAddress ?? "?"
                    guard context.connections.admit(address) else {
                        throw BrokerError(.notAllowed, "too many connections (from \(address), or in all)")
                    }
                    channel.closeFuture.whenComplete { _ in context.connections.release(address) }
                    let connection = PulsarConnection(broker: context, channel: channel)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(PulsarFrameDecoder(maxMessageSize: maxMessageSize)))
                    try channel.pipeline.syncOperations.addHandler(connection)
                    return connection
                }
            }
        return PulsarServer(channel: channel)
    }

    func run() async throws {
        let listener = self.channel.channel
        try await withThrowingDiscardingTaskGroup { group in
            try await withGracefulShutdownHandler {
                try await self.channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask {
                            let broker = connection.broker
                            broker.openConnections.add(1, ordering: .relaxed)
                            defer { broker.openConnections.subtract(1, ordering: .relaxed) }
                            await connection.run()
                        }
                    }
                }
            } onGracefulShutdown: {
                listener.close(promise: nil)
            }
            // Not accepting any more: the connections still open are closed.
            group.cancelAll()
        }
    }
}
