public import Logging
public import NIOCore
public import NIOPosix
import PulsarProto
import PulsarWire
import Synchronization

/// A client of a Pulsar cluster: it finds which broker serves a topic (LOOKUP, with
/// redirects), keeps one connection per broker, and creates producers, consumers and
/// readers on them.
///
/// Every method may be called from any task. Producers and consumers reconnect on their
/// own, with ``Configuration/backoff``, when their broker goes away or moves the topic;
/// ``close()`` closes them all.
public final class PulsarClient: Sendable {
    /// How a client connects and how long it waits.
    public struct Configuration: Sendable {
        public var serviceURL: ServiceURL
        /// How long a request (lookup, subscribe…) waits for its answer. Default 30 s.
        public var operationTimeout: Duration
        /// How long a TCP connect plus handshake may take. Default 10 s.
        public var connectionTimeout: Duration
        /// Delays between reconnection attempts. Default 100 ms doubling to 30 s.
        public var backoff: Backoff
        /// Redirects one lookup follows before it fails. Default 20.
        public var maxLookupRedirects: Int
        /// What the client calls itself in CONNECT.
        public var clientVersion: String
        /// A connection silent this long is PINGed, and closed (its producers and consumers
        /// reconnect) when it stays silent as long again. Default 30 s, as Pulsar's clients.
        public var keepAliveInterval: Duration

        public init(
            serviceURL: ServiceURL,
            operationTimeout: Duration = .seconds(30),
            connectionTimeout: Duration = .seconds(10),
            backoff: Backoff = Backoff(),
            maxLookupRedirects: Int = 20,
            clientVersion: String = "magnetar-swift",
            keepAliveInterval: Duration = .seconds(30)
        ) {
            self.keepAliveInterval = keepAliveInterval
            self.serviceURL = serviceURL
            self.operationTimeout = operationTimeout
            self.connectionTimeout = connectionTimeout
            self.backoff = backoff
            self.maxLookupRedirects = maxLookupRedirects
            self.clientVersion = clientVersion
        }
    }

    public let configuration: Configuration
    let group: any EventLoopGroup
    let logger: Logger
    let pool: ConnectionPool
    let background = BackgroundWork()
    private let ids = Atomic<UInt64>(0)
    private let lookups = Atomic<Int>(0)
    private let closables = Mutex<(closed: Bool, members: [ObjectIdentifier: any ClientMember])>((false, [:]))

    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "magnetar.client")) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.pool = ConnectionPool(
            group: eventLoopGroup, clientVersion: configuration.clientVersion, connectTimeout: configuration.connectionTimeout,
            keepAliveInterval: configuration.keepAliveInterval, logger: logger
        )
    }

    /// A client of `serviceURL` (`pulsar://host:port[,host:port…]`, or `http://host:port[,…]`
    /// for lookups over HTTP) with default settings.
    public convenience init(serviceURL: String, logger: Logger = Logger(label: "magnetar.client")) throws(PulsarClientError) {
        self.init(configuration: Configuration(serviceURL: try ServiceURL(parsing: serviceURL)), logger: logger)
    }

    /// Closes every producer, consumer and reader of this client, then its connections.
    public func close() async {
        let members = self.closables.withLock { state in
            state.closed = true
            defer { state.members.removeAll() }
            return Array(state.members.values)
        }
        self.background.cancelAll()
        for member in members { await member.close() }
        await self.pool.close()
        await self.background.waitForAll()
    }

    var isClosed: Bool { self.closables.withLock { $0.closed } }

    /// A producer or consumer id, unique in this client, kept across reconnections.
    func nextID() -> UInt64 { self.ids.add(1, ordering: .relaxed).newValue }

    func register(_ member: any ClientMember) throws(PulsarClientError) {
        let closed = self.closables.withLock { state in
            if !state.closed { state.members[ObjectIdentifier(member)] = member }
            return state.closed
        }
        if closed { throw PulsarClientError(.clientClosed, "the client is closed") }
    }

    func forget(_ member: any ClientMember) {
        _ = self.closables.withLock { $0.members.removeValue(forKey: ObjectIdentifier(member)) }
    }

    /// The next address of the service URL to ask (round-robin).
    func serviceAddress() -> BrokerAddress {
        let addresses = self.configuration.serviceURL.addresses
        return addresses[self.lookups.add(1, ordering: .relaxed).oldValue % addresses.count]
    }
}

/// Something a client closes when it closes.
protocol ClientMember: AnyObject, Sendable {
    func close() async
}
