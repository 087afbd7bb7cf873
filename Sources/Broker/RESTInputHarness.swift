import Codec
import Dispatch
import HTTPTypes
public import Hummingbird
import Logging
public import Ledger
import ManagedLedger
public import Metadata
public import NIOCore

/// The broker's REST API as a fuzzer drives it, with no socket: an input is a request,
/// `METHOD /path?query` on its first line and the body after it, answered by the broker's
/// own router (every route, its middleware, ``BrokerContext``) over the ledgers and
/// metadata store it is given. The broker has joined its cluster and holds
/// `persistent://public/default/fuzz` with subscription `s`, so topic and subscription
/// routes reach a live topic. Any trap, or a request never answered, is a defect.
/// `Sources/Fuzzing/RESTBodies` runs it under libFuzzer.
public final class RESTInputHarness: Sendable {
    /// How long one request may take before the harness calls it lost.
    static let answerDeadline = DispatchTimeInterval.seconds(60)

    private let responder: RouterResponder<BasicRequestContext>
    private let channel: any Channel
    private let logger: Logger
    let context: BrokerContext
    private let membership: Task<Void, any Error>

    /// A broker named `fuzz` over `metadata` and `client`, joined, with its topic loaded;
    /// `channel` stands for the connection requests arrive on (a test channel).
    public init(metadata: MemoryMetadataStore, client: LedgerClient, channel: any Channel) async throws {
        var logger = Logger(label: "rest-fuzz")
        logger.logLevel = .critical
        self.logger = logger
        var ledgers = ManagedLedgerConfiguration()
        ledgers.ensembleSize = 1
        ledgers.writeQuorum = 1
        ledgers.ackQuorum = 1
        let context = BrokerContext(
            name: "fuzz", serviceURL: "pulsar://127.0.0.1:6650", maxMessageSize: 5 << 20, metadata: metadata, clients: [client],
            ledgerConfiguration: ledgers, defaultCompression: .none, sessionTTL: .seconds(30), logger: logger
        )
        try await context.createDefaultNamespace()
        self.context = context
        let shared = ContextBox()
        shared.context = context
        self.responder = BrokerRoutes.router(shared, registry: nil).buildResponder()
        self.channel = channel
        let service = MembershipService(
            context: context, configuration: .init(reportInterval: .seconds(5), sheddingInterval: nil), advertisedHost: "127.0.0.1",
            cluster: "standalone", httpPort: { 8080 }
        )
        self.membership = Task { try await service.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        for request in ["PUT /admin/v2/persistent/public/default/fuzz", "PUT /admin/v2/persistent/public/default/fuzz/subscription/s"] {
            while await self.answer(Array(request.utf8)) != .noContent {
                guard ContinuousClock.now < deadline else { throw BrokerError(.serviceNotReady, "the fuzz broker did not take its topic") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Leaves the cluster and closes the broker's topics.
    public func shutdown() async {
        self.membership.cancel()
        _ = await self.membership.result
        await self.context.topics.closeAll()
    }

    /// Runs one input to its answer, blocking the calling thread (libFuzzer's).
    public func run(_ bytes: UnsafeRawBufferPointer) {
        let input = Array(bytes)
        let answered = DispatchSemaphore(value: 0)
        Task {
            _ = await self.answer(input)
            answered.signal()
        }
        if answered.wait(timeout: .now() + Self.answerDeadline) == .timedOut {
            fatalError("a REST request was not answered within \(Self.answerDeadline)")
        }
    }

    /// The status the router answers `input` with (nil: it threw past its middleware).
    func answer(_ input: [UInt8]) async -> HTTPResponse.Status? {
        let request = Self.request(input)
        let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: self.channel, logger: self.logger))
        do {
            return try await self.responder.respond(to: request, context: context).status
        } catch let error as any HTTPResponseError {
            return error.status
        } catch {
            return nil
        }
    }

    /// The request an input spells: `METHOD target` up to the first newline (a method that
    /// is not a token is GET), the rest the body.
    static func request(_ input: [UInt8]) -> Request {
        let newline = input.firstIndex(of: UInt8(ascii: "\n")) ?? input.endIndex
        let line = String(decoding: input[..<newline], as: UTF8.self)
        let body = newline < input.endIndex ? Array(input[(newline + 1)...]) : []
        let space = line.firstIndex(of: " ") ?? line.endIndex
        let method = HTTPRequest.Method(String(line[..<space])) ?? .get
        let target = space < line.endIndex ? String(line[line.index(after: space)...]) : "/"
        let head = HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1:8080", path: target)
        return Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
    }

    /// One request per route (with a body where it takes one), for the seed corpus.
    public static func seeds() -> [[UInt8]] {
        let topic = "/admin/v2/persistent/public/default/fuzz"
        let subscription = "\(topic)/subscription/s"
        let namespace = "/admin/v2/namespaces/public/default"
        let requests = [
            "GET /admin/v2/persistent/public/default/fuzz/partitions", "GET /admin/v2/non-persistent/public/default/np/partitions",
            "PUT /admin/v2/persistent/public/default/parted/partitions\n4", "DELETE \(topic)/partitions",
            "POST \(topic)/partitions\n8", "GET /admin/v2/namespaces/public/default/topics",
            "GET /admin/v2/persistent/public/default", "GET /admin/v2/persistent/public/default/partitioned",
            "PUT \(topic)", "DELETE /admin/v2/persistent/public/default/other?force=true", "GET \(topic)/stats",
            "GET \(topic)/partitioned-stats", "GET \(topic)/internalStats", "GET \(topic)/lastMessageId", "POST \(topic)/terminate",
            "GET \(topic)/examinemessage?initialPosition=earliest&messagePosition=1", "GET \(topic)/subscriptions",
            "PUT \(subscription)\n{\"ledgerId\":1,\"entryId\":2}", "DELETE \(topic)/subscription/gone",
            "POST \(subscription)/skip/5", "POST \(subscription)/skip_all", "POST \(subscription)/resetcursor/1700000000000",
            "POST \(subscription)/resetcursor\n{\"ledgerId\":1,\"entryId\":0,\"partitionIndex\":-1}",
            "POST \(subscription)/expireMessages/60", "GET \(subscription)/position/1",
            "GET \(topic)/retention", "POST \(topic)/retention\n{\"retentionTimeInMinutes\":60,\"retentionSizeInMB\":100}",
            "DELETE \(topic)/retention", "GET \(topic)/messageTTL", "POST \(topic)/messageTTL?messageTTL=3600", "DELETE \(topic)/messageTTL",
            "GET \(topic)/deduplicationEnabled", "POST \(topic)/deduplicationEnabled\ntrue", "DELETE \(topic)/deduplicationEnabled",
            "GET \(topic)/backlogQuotaMap", "POST \(topic)/backlogQuota\n{\"limitSize\":1048576,\"policy\":\"producer_request_hold\"}",
            "DELETE \(topic)/backlogQuota",
            "GET \(namespace)/retention", "POST \(namespace)/retention\n{\"retentionTimeInMinutes\":-1,\"retentionSizeInMB\":-1}",
            "DELETE \(namespace)/retention", "POST \(namespace)/messageTTL\n600", "GET \(namespace)/messageTTL",
            "POST \(namespace)/deduplication\ntrue", "POST \(namespace)/autoTopicCreation\n{\"allowAutoTopicCreation\":true,\"topicType\":\"partitioned\",\"defaultNumPartitions\":2}",
            "GET \(namespace)/persistence", "POST \(namespace)/persistence\n{\"bookkeeperEnsemble\":1,\"bookkeeperWriteQuorum\":1,\"bookkeeperAckQuorum\":1,\"managedLedgerMaxMarkDeleteRate\":0}",
            "DELETE \(namespace)/persistence", "GET \(namespace)/storageCompression", "POST \(namespace)/storageCompression\n\"LZ4\"",
            "DELETE \(namespace)/storageCompression", "GET \(namespace)/backlogQuotaMap",
            "POST \(namespace)/backlogQuota?backlogQuotaType=destination_storage\n{\"limitSize\":10,\"policy\":\"consumer_backlog_eviction\"}",
            "DELETE \(namespace)/backlogQuota", "GET \(namespace)", "GET /admin/v2/namespaces/public", "PUT /admin/v2/namespaces/public/extra\n{}",
            "DELETE /admin/v2/namespaces/public/extra", "GET \(namespace)/bundles", "PUT \(namespace)/0x00000000_0x40000000/unload",
            "PUT \(namespace)/0x40000000_0x80000000/split?unload=false", "PUT \(namespace)/unload",
            "GET /admin/v2/non-persistent/public/default", "GET /admin/v2/non-persistent/public/default/partitioned",
            "PUT /admin/v2/non-persistent/public/default/np/partitions\n2", "DELETE /admin/v2/non-persistent/public/default/np/partitions",
            "GET /admin/v2/non-persistent/public/default/np/stats", "GET /admin/v2/clusters", "GET /admin/v2/clusters/standalone",
            "GET /admin/v2/tenants", "GET /admin/v2/tenants/public",
            "PUT /admin/v2/tenants/acme\n{\"adminRoles\":[\"admin\"],\"allowedClusters\":[\"standalone\"]}",
            "POST /admin/v2/tenants/acme\n{\"adminRoles\":[],\"allowedClusters\":[\"standalone\"]}", "DELETE /admin/v2/tenants/acme",
            "GET /admin/v2/bookies/all", "GET /admin/v2/bookies/racks-info", "PUT /admin/v2/bookies/bookie-0/decommission",
            "GET /admin/v2/bookies/bookie-0/decommission", "DELETE /admin/v2/bookies/bookie-9",
            "GET /lookup/v2/topic/persistent/public/default/fuzz", "GET /lookup/v2/topic/non-persistent/public/default/np",
            "GET /lookup/v2/topic/persistent/public/default/fuzz/bundle", "PUT \(topic)/unload", "GET /admin/v2/brokers/leaderBroker",
            "GET /admin/v2/brokers/standalone", "GET /admin/v2/brokers/standalone/127.0.0.1:8080/ownedNamespaces",
            "GET /admin/v2/brokers/health", "GET /health", "GET /metrics",
        ]
        return requests.map { Array($0.utf8) }
    }
}
