import EtcdAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import SwiftProtobuf
public import Logging
import Synchronization

/// The cluster metadata store (`etcd://host:port[,host:port…]`): etcd's v3 API over gRPC.
///
/// Versions are etcd mod-revisions; expectations become `Txn` compares on
/// `create_revision` (absent) or `mod_revision` (exact version); sessions are leases kept
/// alive through `LeaseKeepAlive`; watches are `Watch` streams started at an explicit
/// revision, so a watch resumed after a failure misses nothing. Calls that fail because an
/// endpoint is unreachable move on to the next endpoint; a watch reconnects from the last
/// revision it delivered.
public final class EtcdMetadataStore: MetadataStore {
    /// Where etcd is and how long to wait for it.
    public struct Configuration: Sendable {
        /// `host:port` pairs of etcd members; calls go to one and fail over to the others.
        public var endpoints: [(host: String, port: Int)]
        /// The deadline of each call. Default 5 s.
        public var requestTimeout: Duration

        public init(endpoints: [(host: String, port: Int)], requestTimeout: Duration = .seconds(5)) {
            self.endpoints = endpoints
            self.requestTimeout = requestTimeout
        }
    }

    private typealias Client = GRPCClient<HTTP2ClientTransport.Posix>

    private struct Endpoint {
        var name: String
        var client: Client
        var connections: Task<Void, Never>
    }

    private let endpoints: [Endpoint]
    private let preferred = Atomic<Int>(0)
    private let configuration: Configuration
    private let watches = Mutex<[Int: Task<Void, Never>]>([:])
    private let nextWatchID = Atomic<Int>(0)
    let logger: Logger

    private init(configuration: Configuration, endpoints: [Endpoint], logger: Logger) {
        self.configuration = configuration
        self.endpoints = endpoints
        self.logger = logger
    }

    /// Creates clients for every endpoint and starts their connections. Connections are
    /// made lazily; an unreachable cluster shows up as `unavailable` errors on calls.
    public static func connect(_ configuration: Configuration, logger: Logger) throws -> EtcdMetadataStore {
        guard !configuration.endpoints.isEmpty else {
            throw MetadataError(.invalidArgument, "an etcd URL needs at least one host:port")
        }
        let endpoints = try configuration.endpoints.map { endpoint in
            let transport = try HTTP2ClientTransport.Posix(
                target: .dns(host: endpoint.host, port: endpoint.port),
                transportSecurity: .plaintext,
                config: .defaults {
                    $0.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
                    $0.connection.maxIdleTime = nil
                }
            )
            let client = Client(transport: transport)
            let connections = Task<Void, Never> { try? await client.runConnections() }
            return Endpoint(name: "\(endpoint.host):\(endpoint.port)", client: client, connections: connections)
        }
        return EtcdMetadataStore(configuration: configuration, endpoints: endpoints, logger: logger)
    }

    // MARK: MetadataStore

    public func get(_ key: String) async throws -> Versioned? {
        try MetadataKey.validate(key)
        var request = EtcdRangeRequest()
        request.key = Data(key.utf8)
        let response: EtcdRangeResponse = try await self.call(.range, request)
        return response.kvs.first.map(Self.versioned)
    }

    public func put(_ key: String, value: [UInt8], expecting: Expectation, session: MetadataSession?) async throws -> Int64 {
        try MetadataKey.validate(key)
        var put = EtcdPutRequest()
        put.key = Data(key.utf8)
        put.value = Data(value)
        put.lease = session?.id ?? 0
        do {
            guard let compare = Self.compare(key, expecting) else {
                let response: EtcdPutResponse = try await self.call(.put, put)
                return response.header.revision
            }
            var operation = EtcdRequestOp()
            operation.requestPut = put
            let (response, retried) = try await self.transaction(key, compare, success: operation)
            guard response.succeeded else {
                // An attempt that looked lost may have landed: then the key holds exactly
                // what this put wrote, and the put succeeded.
                if retried, let current = response.responses.first?.responseRange.kvs.first,
                    current.value == put.value, current.lease == put.lease
                {
                    return current.modRevision
                }
                throw Self.failedExpectation(key, expecting, response)
            }
            return response.header.revision
        } catch let error as MetadataError where error.code == .notFound && session != nil {
            // etcd's answer to a put with a lease it no longer has.
            throw MetadataError.sessionExpired(session!.id)
        }
    }

    public func delete(_ key: String, expecting: Expectation) async throws {
        try MetadataKey.validate(key)
        if expecting == .absent { try expecting.checkDelete(key, current: nil) }
        var delete = EtcdDeleteRangeRequest()
        delete.key = Data(key.utf8)
        // As for puts, a retried delete that finds the key gone was applied by the attempt
        // that looked lost.
        guard let compare = Self.compare(key, expecting) else {
            let (response, retried): (EtcdDeleteRangeResponse, Bool) = try await self.callNotingRetries(.deleteRange, delete)
            if response.deleted == 0 && !retried { throw MetadataError.notFound(key) }
            return
        }
        var operation = EtcdRequestOp()
        operation.requestDeleteRange = delete
        let (response, retried) = try await self.transaction(key, compare, success: operation)
        let gone = response.responses.first?.responseRange.kvs.isEmpty ?? false
        guard response.succeeded || (retried && gone) else { throw Self.failedExpectation(key, expecting, response) }
    }

    public func children(of path: String) async throws -> [String] {
        try MetadataKey.validatePath(path)
        let prefix = MetadataKey.childPrefix(path)
        var request = EtcdRangeRequest()
        request.key = Data(prefix.utf8)
        request.rangeEnd = Data(MetadataKey.rangeEnd(forPrefix: prefix))
        request.keysOnly = true
        let response: EtcdRangeResponse = try await self.call(.range, request)
        return MetadataKey.childNames(below: path, keys: response.kvs.map { String(decoding: $0.key, as: UTF8.self) })
    }

    public func watch(_ scope: WatchScope) async throws -> MetadataWatch {
        // Start right after the store's current revision so that nothing later is missed,
        // however long the stream takes to establish.
        var probe = EtcdRangeRequest()
        probe.key = Data("/".utf8)
        probe.countOnly = true
        let current: EtcdRangeResponse = try await self.call(.range, probe)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: MetadataEvent.self)
        let id = self.nextWatchID.add(1, ordering: .relaxed).newValue
        let task = Task { [self] in
            await self.runWatch(scope, from: current.header.revision + 1, into: continuation)
            _ = self.watches.withLock { $0.removeValue(forKey: id) }
        }
        self.watches.withLock { $0[id] = task }
        continuation.onTermination = { _ in task.cancel() }
        return MetadataWatch(stream)
    }

    public func createSession(ttl: Duration) async throws -> MetadataSession {
        try SessionRules.validate(ttl: ttl)
        var request = EtcdLeaseGrantRequest()
        // etcd leases count whole seconds and may round a short TTL up to its minimum.
        request.ttl = max(1, (ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000 + 999) / 1000)
        let response: EtcdLeaseGrantResponse = try await self.call(.leaseGrant, request)
        guard response.error.isEmpty else {
            throw MetadataError(.unavailable, "etcd refused a lease: \(response.error)")
        }
        return MetadataSession(id: response.id, ttl: .seconds(response.ttl))
    }

    public func keepAlive(_ session: MetadataSession) async throws {
        var message = EtcdLeaseKeepAliveRequest()
        message.id = session.id
        let request = message
        let (remaining, _) = try await self.withFailover { client in
            try await client.bidirectionalStreaming(
                request: StreamingClientRequest { writer in try await writer.write(request) },
                descriptor: EtcdMethod.leaseKeepAlive.descriptor,
                serializer: ProtobufSerializer<EtcdLeaseKeepAliveRequest>(),
                deserializer: ProtobufDeserializer<EtcdLeaseKeepAliveResponse>(),
                options: self.options
            ) { response in
                for try await message in response.messages { return message.ttl }
                throw RPCError(code: .unavailable, message: "etcd closed the keep-alive stream without answering")
            }
        }
        if remaining <= 0 { throw MetadataError.sessionExpired(session.id) }
    }

    public func closeSession(_ session: MetadataSession) async throws {
        var request = EtcdLeaseRevokeRequest()
        request.id = session.id
        do {
            let _: EtcdLeaseRevokeResponse = try await self.call(.leaseRevoke, request)
        } catch let error as MetadataError where error.code == .notFound {
            return  // Already expired: its keys are gone, which is what closing asks for.
        }
    }

    public func close() async {
        let watches = self.watches.withLock { watches in
            defer { watches = [:] }
            return Array(watches.values)
        }
        for watch in watches { watch.cancel() }
        for endpoint in self.endpoints {
            endpoint.client.beginGracefulShutdown()
        }
        // A member that took the connection but never answers (paused, cut off) keeps a
        // graceful shutdown waiting for ever: after a grace period the connections are
        // cancelled.
        let endpoints = self.endpoints
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for endpoint in endpoints { await endpoint.connections.value }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: Self.closeGrace)
                } catch {
                    return  // Every connection closed in time.
                }
                for endpoint in endpoints { endpoint.connections.cancel() }
            }
            await group.next()
            group.cancelAll()
        }
        for endpoint in endpoints { await endpoint.connections.value }
    }

    /// How long ``close()`` lets connections finish before cancelling them.
    static let closeGrace: Duration = .seconds(2)

    // MARK: Transactions

    private static func compare(_ key: String, _ expectation: Expectation) -> EtcdCompare? {
        var compare = EtcdCompare()
        compare.key = Data(key.utf8)
        compare.result = .equal
        switch expectation {
        case .any:
            return nil
        case .absent:
            compare.target = .create
            compare.createRevision = 0
        case .version(let version):
            compare.target = .mod
            compare.modRevision = version
        }
        return compare
    }

    /// Runs `compare ? success : range(key)`, so a failure tells what the key holds, and
    /// says whether an attempt was retried after a failure that left its fate unknown.
    private func transaction(
        _ key: String,
        _ compare: EtcdCompare,
        success: EtcdRequestOp
    ) async throws -> (EtcdTxnResponse, retried: Bool) {
        var request = EtcdTxnRequest()
        request.compare = [compare]
        request.success = [success]
        var read = EtcdRangeRequest()
        read.key = Data(key.utf8)
        var failure = EtcdRequestOp()
        failure.requestRange = read
        request.failure = [failure]
        return try await self.callNotingRetries(.txn, request)
    }

    private static func failedExpectation(_ key: String, _ expectation: Expectation, _ response: EtcdTxnResponse) -> MetadataError {
        let current = response.responses.first?.responseRange.kvs.first?.modRevision
        do {
            try expectation.check(key, current: current)
            return MetadataError(.unavailable, "etcd rejected a compare on \(key) that now holds")
        } catch {
            return error
        }
    }

    private static func versioned(_ kv: EtcdKeyValue) -> Versioned {
        Versioned(value: Array(kv.value), version: kv.modRevision, session: kv.lease == 0 ? nil : kv.lease)
    }

    // MARK: Calls

    /// Each attempt on one endpoint gets a share of the request timeout, so that a member
    /// that accepts connections but does not answer (paused, cut off) leaves time to ask
    /// the others.
    private var options: CallOptions {
        var options = CallOptions.defaults
        options.timeout = Self.attemptTimeout(self.configuration.requestTimeout, endpoints: self.endpoints.count)
        options.waitForReady = false
        return options
    }

    /// The request timeout split over the endpoints, at least 500 ms each.
    static func attemptTimeout(_ requestTimeout: Duration, endpoints: Int) -> Duration {
        guard endpoints > 1 else { return requestTimeout }
        return max(requestTimeout / endpoints, min(requestTimeout, .milliseconds(500)))
    }

    private func call<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: EtcdMethod,
        _ request: Request
    ) async throws -> Response {
        try await self.callNotingRetries(method, request).0
    }

    private func callNotingRetries<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: EtcdMethod,
        _ request: Request
    ) async throws -> (Response, retried: Bool) {
        try await self.withFailover { client in
            try await client.unary(
                request: ClientRequest(message: request),
                descriptor: method.descriptor,
                serializer: ProtobufSerializer<Request>(),
                deserializer: ProtobufDeserializer<Response>(),
                options: self.options
            ) { try $0.message }
        }
    }

    /// Runs `body` against the preferred endpoint, moving round the endpoints while they
    /// report themselves unreachable or do not answer within their share of the timeout
    /// (with a short backoff after each full round) until the request timeout has passed;
    /// the endpoint that answers becomes the preferred one. Every failure leaves as a
    /// ``MetadataError``.
    ///
    /// A retried write may have been applied by the attempt that looked unreachable or
    /// slow; a compare-and-set then fails with `badVersion`, as if another writer had won.
    private func withFailover<T: Sendable>(_ body: (Client) async throws -> T) async throws -> (T, retried: Bool) {
        let deadline = ContinuousClock.now + self.configuration.requestTimeout
        var backoff = Duration.milliseconds(50)
        var lastError: RPCError?
        while true {
            let start = self.preferred.load(ordering: .relaxed)
            for attempt in 0..<self.endpoints.count {
                let index = (start + attempt) % self.endpoints.count
                do {
                    let result = try await body(self.endpoints[index].client)
                    if index != start { self.preferred.store(index, ordering: .relaxed) }
                    return (result, lastError != nil)
                } catch let error as RPCError where error.code == .unavailable || (error.code == .deadlineExceeded && self.endpoints.count > 1) {
                    lastError = error
                    self.logger.debug("etcd endpoint unavailable", metadata: ["endpoint": "\(self.endpoints[index].name)", "error": "\(error.code)"])
                } catch let error as RPCError {
                    throw Self.translate(error)
                } catch let error as MetadataError {
                    throw error
                } catch {
                    throw MetadataError(.unavailable, "etcd call failed: \(error)")
                }
            }
            guard ContinuousClock.now + backoff < deadline, !Task.isCancelled else { break }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(1))
        }
        let names = self.endpoints.map(\.name).joined(separator: ", ")
        throw MetadataError(.unavailable, "no etcd endpoint answered (\(names)): \(lastError?.message ?? "")")
    }

    static func translate(_ error: RPCError) -> MetadataError {
        switch error.code {
        case .notFound:
            MetadataError(.notFound, "etcd: \(error.message)")
        case .deadlineExceeded:
            MetadataError(.unavailable, "etcd did not answer in time: \(error.message)")
        case .invalidArgument, .failedPrecondition, .outOfRange:
            MetadataError(.invalidArgument, "etcd rejected the request: \(error.message)")
        default:
            MetadataError(.unavailable, "etcd call failed (\(error.code)): \(error.message)")
        }
    }

    /// Rotates the preferred endpoint after the current one failed a stream.
    func rotatePreferred(from failed: Int) {
        _ = self.preferred.compareExchange(expected: failed, desired: (failed + 1) % self.endpoints.count, ordering: .relaxed)
    }

    func preferredClient() -> (index: Int, client: GRPCClient<HTTP2ClientTransport.Posix>) {
        let index = self.preferred.load(ordering: .relaxed) % self.endpoints.count
        return (index, self.endpoints[index].client)
    }
}
