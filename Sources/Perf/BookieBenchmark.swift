import BookieWire
import Histogram
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

    public init(host: String, port: Int, entrySize: Int, inFlight: Int, ledgers: Int, duration: Duration) {
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
        let ledgerBase = UInt64.random(in: 1 << 40...1 << 50)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AddLoadHandler(benchmark: self, ledgerBase: ledgerBase, done: done)
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
private final class AddLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let benchmark: BookieBenchmark
    private var frames = BookieFrameReader()
    private let ledgerBase: UInt64
    private let done: EventLoopPromise<LoadResult>
    private let payload: ByteBuffer
    private var nextEntry: [UInt64]
    private var sentAt: [UInt64: NIODeadline] = [:]
    private var nextRequestID: UInt64 = 0
    private var latencies = makeLatencyHistogram()
    private var failures = 0
    private var start = NIODeadline.now()
    private var deadline = NIODeadline.now()
    private var finished = false

    init(benchmark: BookieBenchmark, ledgerBase: UInt64, done: EventLoopPromise<LoadResult>) {
        self.benchmark = benchmark
        self.ledgerBase = ledgerBase
        self.done = done
        self.payload = ByteBuffer(repeating: UInt8(ascii: "b"), count: benchmark.entrySize)
        self.nextEntry = Array(repeating: 0, count: max(1, benchmark.ledgers))
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start = .now()
        self.deadline = self.start + .nanoseconds(Int64(self.benchmark.duration.components.seconds * 1_000_000_000 + self.benchmark.duration.components.attoseconds / 1_000_000_000))
        for _ in 0..<self.benchmark.inFlight { self.sendAdd(context: context) }
        context.flush()
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
        if let sent = self.sentAt.removeValue(forKey: frame.requestID) {
            if BookieStatus(rawValue: frame.flags) == .ok {
                _ = self.latencies.record(UInt64(max(0, (now - sent).nanoseconds)))
            } else {
                self.failures += 1
            }
        }
        if now < self.deadline {
            self.sendAdd(context: context)
        } else if self.sentAt.isEmpty {
            self.finish(now)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()  // One system call for every add sent in answer to this read.
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

    private func sendAdd(context: ChannelHandlerContext) {
        let slot = Int(self.nextRequestID % UInt64(self.nextEntry.count))
        let ledgerID = self.ledgerBase + UInt64(slot)
        let entryID = self.nextEntry[slot]
        self.nextEntry[slot] += 1
        let entry = LedgerEntry(ledgerID: ledgerID, entryID: entryID, lastAddConfirmed: Int64(entryID) - 1, ledgerLength: 0, payload: self.payload)
        var head = context.channel.allocator.buffer(capacity: 96)
        BookieRequest.writeAddHead(requestID: self.nextRequestID, entry: entry, ledgerKey: [], recovery: false, into: &head)
        self.sentAt[self.nextRequestID] = .now()
        self.nextRequestID += 1
        context.write(Self.wrapOutboundOut(head), promise: nil)
        context.write(Self.wrapOutboundOut(self.payload), promise: nil)
    }
}
