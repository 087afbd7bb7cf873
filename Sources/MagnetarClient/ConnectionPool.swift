import Logging
import NIOCore
import Synchronization

/// One connection per broker address, shared by every producer, consumer and lookup
/// of a client. A connection that closes leaves the pool; the next caller opens a new
/// one. Callers that ask while a connection is being opened wait for that one.
final class ConnectionPool: Sendable {
    private enum Slot {
        case opening(EventLoopFuture<ClientConnection>)
        case open(ClientConnection)
    }

    private let group: any EventLoopGroup
    private let clientVersion: String
    private let connectTimeout: Duration
    private let keepAliveInterval: Duration
    private let logger: Logger
    private let slots = Mutex<(closed: Bool, slots: [BrokerAddress: Slot])>((false, [:]))

    init(group: any EventLoopGroup, clientVersion: String, connectTimeout: Duration, keepAliveInterval: Duration = .seconds(30), logger: Logger) {
        self.keepAliveInterval = keepAliveInterval
        self.group = group
        self.clientVersion = clientVersion
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// The open connection to `address`, opening it when there is none.
    func connection(to address: BrokerAddress) async throws(PulsarClientError) -> ClientConnection {
        enum Step {
            case ready(ClientConnection)
            case wait(EventLoopFuture<ClientConnection>)
            case open(EventLoopPromise<ClientConnection>)
            case closed
        }
        let step: Step = self.slots.withLock { state in
            guard !state.closed else { return .closed }
            switch state.slots[address] {
            case .open(let connection) where connection.isActive:
                return .ready(connection)
            case .opening(let future):
                return .wait(future)
            default:
                let promise = self.group.next().makePromise(of: ClientConnection.self)
                state.slots[address] = .opening(promise.futureResult)
                return .open(promise)
            }
        }
        switch step {
        case .closed:
            throw PulsarClientError(.clientClosed, "the client is closed")
        case .ready(let connection):
            return connection
        case .wait(let future):
            do {
                return try await future.get()
            } catch {
                throw error as? PulsarClientError ?? PulsarClientError(.connectionFailed, "\(error)")
            }
        case .open(let promise):
            do {
                let connection = try await ClientConnection.connect(
                    to: address, group: self.group, clientVersion: self.clientVersion, timeout: self.connectTimeout,
                    keepAliveInterval: self.keepAliveInterval, logger: self.logger
                )
                let closeNow = self.slots.withLock { state in
                    if state.closed { return true }
                    state.slots[address] = .open(connection)
                    return false
                }
                connection.channel.closeFuture.whenComplete { _ in
                    self.slots.withLock { state in
                        if case .open(let current) = state.slots[address], current === connection { state.slots[address] = nil }
                    }
                }
                if closeNow { connection.close() }
                promise.succeed(connection)
                return connection
            } catch {
                self.slots.withLock { state in _ = state.slots.removeValue(forKey: address) }
                promise.fail(error)
                throw error
            }
        }
    }

    /// Closes every connection; later calls fail with ``PulsarClientError/Code/clientClosed``.
    func close() async {
        let connections: [ClientConnection] = self.slots.withLock { state in
            state.closed = true
            defer { state.slots.removeAll() }
            return state.slots.values.compactMap { slot in
                if case .open(let connection) = slot { return connection }
                return nil
            }
        }
        for connection in connections {
            try? await connection.channel.close()
        }
    }
}
