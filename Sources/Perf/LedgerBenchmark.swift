import Histogram
import Ledger
public import Metadata
import NIOCore
import NIOPosix

/// Appends entries through a `LedgerClient` to ledgers replicated over the registered
/// bookies, with a fixed number in flight, and measures add latency from the `append` call
/// to its confirmation.
///
/// The run creates its ledgers, spreads the adds over them round-robin, refills each one
/// from its completion (all on the client's event loop, no task per add), then closes the
/// ledgers and deletes them so the bookies can reclaim the space. Failed adds are counted
/// in ``PerfReport/failures`` and leave `msgRate`; a writer that fails gets no more adds.
public struct LedgerBenchmark: Sendable {
    public var ensembleSize: Int
    public var writeQuorum: Int
    public var ackQuorum: Int
    public var entrySize: Int
    public var inFlight: Int
    public var ledgers: Int
    public var duration: Duration
    /// Adds not answered this long after the end of the run count as failed (default 30 s).
    public var drainTimeout: Duration
    /// Close the ledgers at the end and keep them, instead of deleting them (default
    /// false), to leave data on the bookies (the re-replication benchmark does).
    public var keepLedgers = false

    public init(
        ensembleSize: Int,
        writeQuorum: Int,
        ackQuorum: Int,
        entrySize: Int,
        inFlight: Int,
        ledgers: Int = 1,
        duration: Duration,
        drainTimeout: Duration = .seconds(30)
    ) {
        self.ensembleSize = ensembleSize
        self.writeQuorum = writeQuorum
        self.ackQuorum = ackQuorum
        self.entrySize = entrySize
        self.inFlight = inFlight
        self.ledgers = ledgers
        self.duration = duration
        self.drainTimeout = drainTimeout
    }

    /// Runs against the bookies registered in `store`; the caller keeps and closes `store`.
    public func run(_ store: any MetadataStore) async throws -> PerfReport {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let client = LedgerClient(metadata: store, eventLoop: eventLoop)
        var writers: [LedgerWriter] = []
        do {
            for _ in 0..<max(1, self.ledgers) {
                writers.append(
                    try await client.createLedger(
                        ensembleSize: self.ensembleSize, writeQuorum: self.writeQuorum, ackQuorum: self.ackQuorum,
                        customMetadata: ["application": "magnetar-perf"]
                    )
                )
            }
        } catch {
            for writer in writers { try? await client.deleteLedger(writer.ledgerID) }
            throw error
        }

        let done = eventLoop.makePromise(of: LedgerLoad.Result.self)
        let load = LedgerLoad(writers: writers, entrySize: self.entrySize, eventLoop: eventLoop, done: done)
        eventLoop.execute {
            load.start(inFlight: self.inFlight, duration: Self.timeAmount(self.duration), drainTimeout: Self.timeAmount(self.drainTimeout))
        }
        let result = try await done.futureResult.get()

        var cleanupErrors: [String] = []
        for writer in writers {
            // A writer with adds still unanswered would wait for them in close().
            if result.unanswered == 0 {
                do { try await writer.close() } catch { cleanupErrors.append("close \(writer.ledgerID): \(error)") }
            }
            if self.keepLedgers { continue }
            do { try await client.deleteLedger(writer.ledgerID) } catch { cleanupErrors.append("delete \(writer.ledgerID): \(error)") }
        }
        await client.close()

        let seconds = Double(result.elapsed.nanoseconds) / 1e9
        let confirmed = result.latencies.totalCount
        let rate = seconds > 0 ? Double(confirmed) / seconds : 0
        var description =
            "adds of \(self.entrySize) B over \(writers.count) ledgers with ensemble \(self.ensembleSize), write quorum "
            + "\(self.writeQuorum), ack quorum \(self.ackQuorum), \(self.inFlight) in flight; \(confirmed) confirmed, "
            + "\(result.failures) failed"
        if result.unanswered > 0 { description += " (\(result.unanswered) unanswered)" }
        if let first = result.firstFailure { description += "; first failure: \(first)" }
        if !cleanupErrors.isEmpty { description += "; cleanup: " + cleanupErrors.joined(separator: "; ") }
        return PerfReport(
            msgRate: rate,
            mbPerSec: rate * Double(self.entrySize) / 1e6,
            latencyMs: .init(nanoseconds: result.latencies),
            failures: result.failures,
            description: description
        )
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

/// Keeps `inFlight` adds outstanding over a set of writers until the run's deadline.
/// Confined to the client's event loop, where the writers run their completions.
private final class LedgerLoad: @unchecked Sendable {
    struct Result: Sendable {
        var latencies: Histogram<UInt64>
        var elapsed: TimeAmount
        var failures: Int
        /// Adds still outstanding when the drain timeout ran out (included in `failures`).
        var unanswered: Int
        var firstFailure: LedgerError?
    }

    private let writers: [LedgerWriter]
    private let payload: ByteBuffer
    private let eventLoop: any EventLoop
    private let done: EventLoopPromise<Result>
    /// Writers that failed an add: they are terminal and get no more.
    private var failed: [Bool]
    private var outstanding = 0
    private var latencies = makeLatencyHistogram()
    private var failures = 0
    private var firstFailure: LedgerError?
    private var started = NIODeadline.now()
    private var deadline = NIODeadline.now()
    private var finished = false

    init(writers: [LedgerWriter], entrySize: Int, eventLoop: any EventLoop, done: EventLoopPromise<Result>) {
        self.writers = writers
        self.payload = ByteBuffer(repeating: UInt8(ascii: "l"), count: entrySize)
        self.eventLoop = eventLoop
        self.done = done
        self.failed = Array(repeating: false, count: writers.count)
    }

    func start(inFlight: Int, duration: TimeAmount, drainTimeout: TimeAmount) {
        self.eventLoop.preconditionInEventLoop()
        self.started = .now()
        self.deadline = self.started + duration
        self.eventLoop.scheduleTask(deadline: self.deadline + drainTimeout) { self.giveUp() }
        for slot in 0..<inFlight { self.append(self.writers.count > 1 ? slot % self.writers.count : 0) }
    }

    private func append(_ index: Int) {
        self.outstanding += 1
        let sent = NIODeadline.now()
        self.writers[index].append(self.payload) { result in
            self.completed(index, sent: sent, result)
        }
    }

    private func completed(_ index: Int, sent: NIODeadline, _ result: Swift.Result<Int64, LedgerError>) {
        guard !self.finished else { return }
        let now = NIODeadline.now()
        self.outstanding -= 1
        switch result {
        case .success:
            _ = self.latencies.record(UInt64(max(0, (now - sent).nanoseconds)))
        case .failure(let error):
            self.failures += 1
            self.firstFailure = self.firstFailure ?? error
            self.failed[index] = true
        }
        if now < self.deadline, !self.failed[index] {
            self.append(index)
        } else if self.outstanding == 0 {
            self.finish(now, unanswered: 0)
        }
    }

    /// The drain timeout ran out: what is still outstanding counts as failed.
    private func giveUp() {
        guard !self.finished else { return }
        let unanswered = self.outstanding
        self.failures += unanswered
        self.firstFailure = self.firstFailure ?? LedgerError(.timeout, "\(unanswered) adds unanswered after the run")
        self.finish(.now(), unanswered: unanswered)
    }

    private func finish(_ now: NIODeadline, unanswered: Int) {
        self.finished = true
        let result = Result(
            latencies: self.latencies, elapsed: min(now, self.deadline) - self.started, failures: self.failures,
            unanswered: unanswered, firstFailure: self.firstFailure
        )
        self.done.succeed(result)
    }
}
