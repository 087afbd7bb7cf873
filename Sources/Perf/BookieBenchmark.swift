import BookieWire
import Histogram
import Ledger
import Logging
import Metadata
import NIOCore
import NIOPosix

/// Writes entries to one bookie as fast as it acknowledges them, with a fixed number in
/// flight, and measures add latency.
public struct BookieBenchmark: Sendable {
    public var host: String
    public var port: Int
    public var entrySize: Int
    public var inFlight: Int
    public var ledgers: Int
    public var duration: Duration
    /// The bookie's metadata store, where the benchmark's ledgers are registered (a bookie
    /// takes adds only for ledgers it has).
    public var metadataURL: String

    public init(host: String, port: Int, entrySize: Int, inFlight: Int, ledgers: Int, duration: Duration, metadataURL: String) {
        self.metadataURL = metadataURL
        self.host = host
        self.port = port
        self.entrySize = entrySize
        self.inFlight = inFlight
        self.ledgers = ledgers
        self.duration = duration
    }

    public func run() async throws -> PerfReport {
        let group = MultiThreadedEventLoopGroup.singleton
        let done = group.any().makePromise(of: LoadResult.self)
        let metadata = try await MetadataStoreURL.open(self.metadataURL, logger: Logger(label: "perf"))
        var ledgerIDs: [UInt64] = []
        do {
            for _ in 0..<max(1, self.ledgers) {
                let id = UInt64(try await metadata.nextID(ClusterLayout.ledgerIDCounter))
                try await LedgerMetadata.register(id, password: "", bookies: ["\(self.host):\(self.port)"], in: metadata)
                ledgerIDs.append(id)
            }
        } catch {
            await metadata.close()
            throw error
        }
        await metadata.close()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AddLoadHandler(benchmark: self, ledgerIDs: ledgerIDs, done: done)
                    )
                }
            }
            .connect(host: self.host, port: self.port)
            .get()
        let result = try await done.futureResult.get()
        try? await channel.close()
        let seconds = Double(result.elapsed.components.seconds) + Double(result.elapsed.components.attoseconds) / 1e18
        let rate = Double(result.latencies.totalCount) / seconds
        return PerfReport(
            msgRate: rate,
            mbPerSec: rate * Double(self.entrySize) / 1e6,
            latencyMs: .init(nanoseconds: result.latencies),
            description: "adds of \(self.entrySize) B to \(self.host):\(self.port), \(self.inFlight) in flight over "
                + "\(self.ledgers) ledgers; \(result.latencies.totalCount) acknowledged, \(result.failures) refused"
        )
    }
}

struct LoadResult: Sendable {
    var latencies: Histogram<UInt64>
    var elapsed: Duration
    var failures: Int
}

/// Keeps `inFlight` adds outstanding on one connection until the duration is over.
///
/// Each of the `inFlight` lanes has one add outstanding at a time and sends the next when
/// it is answered; a request id names its lane (`id % inFlight`), so the time it was sent
/// is found by index.
private final class AddLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let benchmark: BookieBenchmark
    private var frames = BookieFrameReader()
    private let ledgerIDs: [UInt64]
    private let done: EventLoopPromise<LoadResult>
    private let payload: ByteBuffer
    private var nextEntry: [UInt64]
    /// By lane: the outstanding request and when it was sent.
    private var outstanding: [(requestID: UInt64, sentAt: NIODeadline)?]
    private var outstandingCount = 0
    /// Adds encoded since the last flush, sent together.
    private var outgoing = ByteBuffer()
    private var sequence: UInt64 = 0
    private var latencies = makeLatencyHistogram()
    private var failures = 0
    private var start = NIODeadline.now()
    private var deadline = NIODeadline.now()
    private var finished = false

    init(benchmark: BookieBenchmark, ledgerIDs: [UInt64], done: EventLoopPromise<LoadResult>) {
        self.benchmark = benchmark
        self.ledgerIDs = ledgerIDs
        self.done = done
        self.payload = ByteBuffer(repeating: UInt8(ascii: "b"), count: benchmark.entrySize)
        self.nextEntry = Array(repeating: 0, count: max(1, benchmark.ledgers))
        self.outstanding = Array(repeating: nil, count: max(1, benchmark.inFlight))
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start = .now()
        self.deadline = self.start + .nanoseconds(Int64(self.benchmark.duration.components.seconds * 1_000_000_000 + self.benchmark.duration.components.attoseconds / 1_000_000_000))
        for lane in self.outstanding.indices { self.sendAdd(lane: lane) }
        self.flushAdds(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.frames.read(Self.unwrapInboundIn(data)) { frame in self.received(frame, context: context) }
        } catch {
            self.errorCaught(context: context, error: error)
        }
    }

    private func received(_ frame: BookieFrame, context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let lane = Int(frame.requestID % UInt64(self.outstanding.count))
        guard let (requestID, sentAt) = self.outstanding[lane], requestID == frame.requestID else { return }
        self.outstanding[lane] = nil
        self.outstandingCount -= 1
        if BookieStatus(rawValue: frame.flags) == .ok {
            _ = self.latencies.record(UInt64(max(0, (now - sentAt).nanoseconds)))
        } else {
            self.failures += 1
        }
        if now < self.deadline {
            self.sendAdd(lane: lane)
        } else if self.outstandingCount == 0 {
            self.finish(now)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushAdds(context: context)  // One buffer and one system call for every add sent in answer to this read.
    }

    private func flushAdds(context: ChannelHandlerContext) {
        guard self.outgoing.readableBytes > 0 else { return }
        context.writeAndFlush(Self.wrapOutboundOut(self.outgoing), promise: nil)
        self.outgoing = context.channel.allocator.buffer(capacity: self.outgoing.capacity)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.finish(.now())
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.done.fail(error)
        self.finished = true
        context.close(promise: nil)
    }

    private func finish(_ now: NIODeadline) {
        guard !self.finished else { return }
        self.finished = true
        let elapsed = Duration.nanoseconds((min(now, self.deadline) - self.start).nanoseconds)
        self.done.succeed(LoadResult(latencies: self.latencies, elapsed: elapsed, failures: self.failures))
    }

    private func sendAdd(lane: Int) {
        let requestID = self.sequence * UInt64(self.outstanding.count) + UInt64(lane)
        let slot = Int(self.sequence % UInt64(self.nextEntry.count))
        self.sequence += 1
        let ledgerID = self.ledgerIDs[slot]
        let entryID = self.nextEntry[slot]
        self.nextEntry[slot] += 1
        let entry = LedgerEntry(ledgerID: ledgerID, entryID: entryID, lastAddConfirmed: Int64(entryID) - 1, ledgerLength: 0, payload: self.payload)
        BookieRequest.writeAddHead(requestID: requestID, entry: entry, ledgerKey: [], recovery: false, into: &self.outgoing)
        self.outgoing.writeImmutableBuffer(self.payload)
        self.outstanding[lane] = (requestID, .now())
        self.outstandingCount += 1
    }
}
