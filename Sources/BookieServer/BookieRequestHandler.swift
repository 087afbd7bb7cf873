public import BookieStorage
public import BookieWire
import Foundation
import Metrics
import Synchronization
public import NIOCore
public import NIOPosix

/// Serves bookie requests on one connection: frames and parses them, runs them against
/// the ``BookieStore``, and writes responses, each tagged with its request's id.
///
/// Adds complete when the journal makes them durable; reads, fences and LAC requests run
/// on `blockingPool` so that no disk work happens on the event loop. Responses may go out
/// in a different order than requests came in. A frame that cannot be parsed gets a
/// `badRequest` answer when its request id is known; a stream that cannot be framed
/// (oversize, garbled length) is answered where possible and closed.
public final class BookieRequestHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let store: BookieStore
    private let blockingPool: NIOThreadPool
    private let info: @Sendable () -> BookieInfo
    private let metrics: BookieMetrics
    private let keys: any LedgerKeyAuthority
    private var responses: ResponseOutbox?
    private var frames: BookieFrameReader
    /// Where the server counts requests read and not answered (nil: not counted).
    var inFlight: InFlightRequests?

    public init(
        store: BookieStore, blockingPool: NIOThreadPool, metrics: BookieMetrics, keys: any LedgerKeyAuthority,
        maximumFrameSize: Int = BookieFrame.defaultMaximumSize, info: @escaping @Sendable () -> BookieInfo
    ) {
        self.keys = keys
        self.store = store
        self.blockingPool = blockingPool
        self.metrics = metrics
        self.frames = BookieFrameReader(maximumFrameSize: maximumFrameSize)
        self.info = info
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.frames.read(Self.unwrapInboundIn(data)) { frame in self.handle(frame, context: context) }
        } catch {
            self.errorCaught(context: context, error: error)
        }
    }

    private func handle(_ frame: BookieFrame, context: ChannelHandlerContext) {
        let request: BookieRequest
        do {
            request = try BookieRequest(parsing: frame)
        } catch {
            let operation = BookieOperation(rawValue: frame.type) ?? .getInfo
            Self.send(.failure(frame.requestID, operation, .badRequest, error.message), context: context)
            return
        }
        let id = request.requestID
        let outbox = self.outbox(context)
        let inFlight = self.inFlight
        inFlight?.begin()
        // Called once per request, whichever thread answers it.
        let respond: @Sendable (BookieResponse) -> Void = { response in
            outbox.send(response)
            inFlight?.end()
        }
        switch request.body {
        case .add(let entry, let key, let recovery):
            let metrics = self.metrics
            let start = ContinuousClock.now
            let completion: @Sendable (Result<(ledgerID: UInt64, entryID: UInt64), BookieStore.Refusal>) -> Void = { result in
                switch result {
                case .success(let (ledgerID, entryID)):
                    metrics.addLatency.record(duration: ContinuousClock.now - start)
                    metrics.bytesWritten.increment(by: Int64(entry.readableBytes))
                    respond(BookieResponse(requestID: id, .add(ledgerID: ledgerID, entryID: entryID)))
                case .failure(let refusal):
                    metrics.addFailures.increment()
                    respond(.failure(id, .add, refusal.status, refusal.message))
                }
            }
            // On the loop only while memory holds the ledger; its state is read from the
            // index (RocksDB) on the blocking pool.
            guard !self.store.addEntryIfLedgerInMemory(entry, ledgerKey: key, recovery: recovery, completion: completion) else { return }
            guard let ledgerID = LedgerEntry.ledgerID(of: entry) else {
                return completion(.failure(BookieStore.Refusal(.corruptEntry, "an entry too short to name its ledger")))
            }
            Self.offload(id, .add, to: self.blockingPool, store: self.store, respond: respond) { [keys = self.keys, pool = self.blockingPool] store in
                Self.authorized(ledgerID, key, store: store, keys: keys, pool: pool, fail: { completion(.failure($0)) }) {
                    store.addEntry(entry, ledgerKey: key, recovery: recovery, completion: completion)
                }
            }
        case .read(let read):
            let metrics = self.metrics
            let start = ContinuousClock.now
            let respondMeasured: @Sendable (BookieResponse) -> Void = { response in
                if case .read(_, _, _, let entries) = response.body {
                    metrics.readLatency.record(duration: ContinuousClock.now - start)
                    metrics.bytesRead.increment(by: Int64(entries.reduce(0) { $0 + $1.readableBytes }))
                } else {
                    metrics.readFailures.increment()
                }
                respond(response)
            }
            let readEntries: @Sendable (Int64?) -> Void = { [store = self.store, pool = self.blockingPool] fencedLAC in
                Self.run(id, .read, on: pool, store: store, respond: respondMeasured) { store throws(BookieStore.Refusal) in
                    var lac = fencedLAC ?? -1
                    if fencedLAC == nil, let state = try store.ledgerState(read.ledgerID) { lac = state.lastAddConfirmed }
                    let entries: [ByteBuffer]
                    do throws(BookieStore.Refusal) {
                        entries = try store.readEntries(
                            ledgerID: read.ledgerID, firstEntryID: read.firstEntryID,
                            maxEntries: Int(read.maxEntries), maxBytes: Int(read.maxBytes)
                        )
                    } catch where error.status == .noEntry && fencedLAC != nil {
                        // A fenced ledger takes no more normal adds: "absent" is final, and
                        // the fencer needs the LAC either way.
                        entries = []
                    }
                    return .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: entries)
                }
            }
            if let poll = read.longPoll {
                let loop = context.eventLoop
                return Self.offload(id, .read, to: self.blockingPool, store: self.store, respond: respond) { [pool = self.blockingPool] store in
                    Self.longPoll(read, poll, id: id, store: store, pool: pool, loop: loop, respond: respond)
                }
            }
            guard read.fence else { return readEntries(nil) }
            // A fence reads the ledger's state from the index when memory holds none.
            let failFence: @Sendable (BookieStore.Refusal) -> Void = { respondMeasured(.failure(id, .read, $0.status, $0.message)) }
            Self.offload(id, .read, to: self.blockingPool, store: self.store, respond: respond) { [keys = self.keys, pool = self.blockingPool] store in
                Self.authorized(read.ledgerID, read.ledgerKey, store: store, keys: keys, pool: pool, fail: failFence) {
                    store.fence(ledgerID: read.ledgerID, ledgerKey: read.ledgerKey) { result in
                        switch result {
                        case .success(let lac): readEntries(lac)
                        case .failure(let refusal): failFence(refusal)
                        }
                    }
                }
            }
        case .readLAC(let ledgerID):
            Self.run(id, .readLAC, on: self.blockingPool, store: self.store, respond: respond) { store throws(BookieStore.Refusal) in
                .readLAC(ledgerID: ledgerID, lastAddConfirmed: try store.lastAddConfirmed(ledgerID: ledgerID))
            }
        case .writeLAC(let ledgerID, let lac, let key):
            // The key check reads the ledger's state, from the index when memory holds none.
            guard lac >= -1 else {
                return respond(.failure(id, .writeLAC, .badRequest, "a last add confirmed of \(lac): entry ids are -1 or more"))
            }
            let fail: @Sendable (BookieStore.Refusal) -> Void = { respond(.failure(id, .writeLAC, $0.status, $0.message)) }
            Self.offload(id, .writeLAC, to: self.blockingPool, store: self.store, respond: respond) { [keys = self.keys, pool = self.blockingPool] store in
                Self.authorized(ledgerID, key, store: store, keys: keys, pool: pool, fail: fail) {
                    store.writeLastAddConfirmed(ledgerID: ledgerID, lac: lac, ledgerKey: key) { result in
                        switch result {
                        case .success: respond(BookieResponse(requestID: id, .writeLAC(ledgerID: ledgerID)))
                        case .failure(let refusal): fail(refusal)
                        }
                    }
                }
            }
        case .getInfo:
            let info = self.info
            Self.run(id, .getInfo, on: self.blockingPool, store: self.store, respond: respond) { _ throws(BookieStore.Refusal) in .getInfo(info()) }
        }
    }

    /// Answers once the ledger's LAC passes `poll.previousLAC` (with the entries from
    /// `firstEntryID` that the LAC covers) or, at the timeout, with no entries and the
    /// LAC as it stands. Runs on the blocking pool (it reads the ledger's state); the
    /// timeout is kept by `loop` and answered on the pool.
    private static func longPoll(
        _ read: ReadRequest,
        _ poll: ReadRequest.LongPoll,
        id: UInt64,
        store: BookieStore,
        pool: NIOThreadPool,
        loop: any EventLoop,
        respond: @escaping @Sendable (BookieResponse) -> Void
    ) {
        let answered = Once()
        let answerOnce: @Sendable (Int64, Bool) -> Void = { lac, timedOut in
            guard answered.claim() else { return }
            guard !timedOut, UInt64(bitPattern: lac) >= read.firstEntryID, lac >= 0 else {
                return respond(BookieResponse(requestID: id, .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: [])))
            }
            Self.run(id, .read, on: pool, store: store, respond: respond) { store throws(BookieStore.Refusal) in
                // lac ≥ firstEntryID here; the span may be any size up to 2^63.
                let span = UInt64(bitPattern: lac) - read.firstEntryID
                let covered = span >= UInt64(read.maxEntries) ? Int(read.maxEntries) : Int(span) + 1
                let entries = try store.readEntries(
                    ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, maxEntries: covered, maxBytes: Int(read.maxBytes)
                )
                return .read(ledgerID: read.ledgerID, firstEntryID: read.firstEntryID, lastAddConfirmed: lac, entries: entries)
            }
        }
        let token: Int?
        do {
            token = try store.waitForLAC(ledgerID: read.ledgerID, above: poll.previousLAC) { lac in answerOnce(lac, false) }
        } catch {
            return respond(.failure(id, .read, error.status, error.message))
        }
        guard let token else { return }
        loop.scheduleTask(in: .milliseconds(Int64(poll.timeoutMilliseconds))) {
            store.cancelLACWait(ledgerID: read.ledgerID, token: token)
            // A pool that stopped answers here, unless the LAC answered first.
            let respondOnce: @Sendable (BookieResponse) -> Void = { response in if answered.claim() { respond(response) } }
            Self.offload(id, .read, to: pool, store: store, respond: respondOnce) { store in
                answerOnce((try? store.ledgerState(read.ledgerID)?.lastAddConfirmed) ?? -1, true)
            }
        }
    }

    private func outbox(_ context: ChannelHandlerContext) -> ResponseOutbox {
        if let outbox = self.responses { return outbox }
        let outbox = ResponseOutbox(context: context)
        self.responses = outbox
        return outbox
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Framing errors: the stream cannot be trusted past this point.
        if let error = error as? BookieWireError, let id = error.requestID {
            Self.send(.failure(id, .getInfo, .badRequest, error.message), context: context)
        }
        context.close(promise: nil)
    }

    /// Runs `body` (on the pool, where this is called) once `key` is known to be the
    /// ledger's: at once when the store holds the ledger's key (the store compares them
    /// itself), else after `keys` vouched for it, back on the pool; calls `fail` instead
    /// when it did not.
    private static func authorized(
        _ ledgerID: UInt64,
        _ key: [UInt8],
        store: BookieStore,
        keys: any LedgerKeyAuthority,
        pool: NIOThreadPool,
        fail: @escaping @Sendable (BookieStore.Refusal) -> Void,
        _ body: @escaping @Sendable () -> Void
    ) {
        do throws(BookieStore.Refusal) {
            if let known = try store.ledgerState(ledgerID), !known.key.isEmpty { return body() }
        } catch {
            return fail(error)
        }
        Task {
            if let refusal = await keys.check(ledgerID: ledgerID, key: key) { return fail(refusal) }
            pool.submit { state in
                guard case .active = state else { return fail(BookieStore.Refusal(.ioError, "the bookie is shutting down")) }
                body()
            }
        }
    }

    /// Runs blocking `work` on the pool and responds with its body or its refusal.
    private static func run(
        _ id: UInt64,
        _ operation: BookieOperation,
        on pool: NIOThreadPool,
        store: BookieStore,
        respond: @escaping @Sendable (BookieResponse) -> Void,
        _ work: @escaping @Sendable (BookieStore) throws(BookieStore.Refusal) -> BookieResponse.Body
    ) {
        pool.submit { state in
            guard case .active = state else {
                return respond(.failure(id, operation, .ioError, "the bookie is shutting down"))
            }
            do throws(BookieStore.Refusal) {
                respond(BookieResponse(requestID: id, try work(store)))
            } catch {
                respond(.failure(id, operation, error.status, error.message))
            }
        }
    }

    /// Runs `work` on the pool, which it answers itself; answers that the bookie is
    /// shutting down when the pool no longer runs work.
    private static func offload(
        _ id: UInt64,
        _ operation: BookieOperation,
        to pool: NIOThreadPool,
        store: BookieStore,
        respond: @escaping @Sendable (BookieResponse) -> Void,
        _ work: @escaping @Sendable (BookieStore) -> Void
    ) {
        pool.submit { state in
            guard case .active = state else {
                return respond(.failure(id, operation, .ioError, "the bookie is shutting down"))
            }
            work(store)
        }
    }

    private static func send(_ response: BookieResponse, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        response.write(into: &buffer)
        context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
    }
}

/// Responses completed off the event loop (by the journal thread or the blocking pool),
/// written in batches: the first response queued schedules one task on the loop, which
/// writes everything queued by then as one buffer with one flush. Under load a group
/// commit's worth of acknowledgements costs one hop and one system call per connection.
private final class ResponseOutbox: Sendable {
    private struct Queue {
        var responses: [BookieResponse] = []
        var scheduled = false
    }

    private let queue = Mutex(Queue())
    private let context: NIOLoopBound<ChannelHandlerContext>

    init(context: ChannelHandlerContext) {
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
    }

    func send(_ response: BookieResponse) {
        let schedule = self.queue.withLock { queue in
            queue.responses.append(response)
            defer { queue.scheduled = true }
            return !queue.scheduled
        }
        if schedule { self.context.eventLoop.execute { self.drain() } }
    }

    private func drain() {
        let responses = self.queue.withLock { queue in
            queue.scheduled = false
            defer { queue.responses.removeAll(keepingCapacity: true) }
            return queue.responses
        }
        let context = self.context.value
        guard context.channel.isActive, !responses.isEmpty else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64 * responses.count)
        for response in responses { response.write(into: &buffer) }
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }
}

/// A flag that exactly one caller can claim.
private final class Once: Sendable {
    private let claimed = Atomic(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !self.claimed.exchange(true, ordering: .acquiringAndReleasing)
    }
}
