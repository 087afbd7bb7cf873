public import BookieStorage
public import BookieWire
import Foundation
import Metrics
public import NIOCore
public import NIOPosix
import Synchronization

/// Runs bookie requests against a ``BookieStore``, with no channel: a frame in, exactly
/// one response out, through a callback. ``BookieRequestHandler`` feeds it a
/// connection's frames; the bookie fuzz harness feeds it bytes.
///
/// Adds complete when the journal makes them durable; reads, fences and LAC requests run
/// on `blockingPool` so that no disk work happens on the event loop. An ADD, fencing READ
/// or WRITE_LAC of a ledger the store holds no key for is first checked with `keys`.
public final class BookieRequestProcessor: Sendable {
    private let store: BookieStore
    private let blockingPool: NIOThreadPool
    private let info: @Sendable () -> BookieInfo
    private let metrics: BookieMetrics
    private let keys: any LedgerKeyAuthority
    /// The longest a long-poll READ waits, whatever its request asks for.
    private let longPollCeiling: Duration

    /// `longPollCeiling`: the longest a long-poll READ is held (default a minute).
    public init(
        store: BookieStore, blockingPool: NIOThreadPool, metrics: BookieMetrics, keys: any LedgerKeyAuthority,
        longPollCeiling: Duration = .seconds(60), info: @escaping @Sendable () -> BookieInfo
    ) {
        self.store = store
        self.blockingPool = blockingPool
        self.metrics = metrics
        self.keys = keys
        self.longPollCeiling = longPollCeiling
        self.info = info
    }

    /// Runs the request `frame` carries and calls `respond` exactly once with its answer,
    /// from whichever thread completes it (the journal's, the pool's, or `loop`, which
    /// keeps long polls' timeouts). A frame that does not parse is answered `badRequest`.
    public func process(_ frame: BookieFrame, loop: any EventLoop, respond: @escaping @Sendable (BookieResponse) -> Void) {
        let request: BookieRequest
        do {
            request = try BookieRequest(parsing: frame)
        } catch {
            let operation = BookieOperation(rawValue: frame.type) ?? .getInfo
            return respond(.failure(frame.requestID, operation, .badRequest, error.message))
        }
        let id = request.requestID
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
                return Self.offload(id, .read, to: self.blockingPool, store: self.store, respond: respond) { [pool = self.blockingPool, ceiling = self.longPollCeiling] store in
                    Self.longPoll(read, poll, ceiling: ceiling, id: id, store: store, pool: pool, loop: loop, respond: respond)
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
    /// `firstEntryID` that the LAC covers) or, at the timeout (the request's, at most
    /// `ceiling`), with no entries and the LAC as it stands. Runs on the blocking pool (it reads the ledger's state); the
    /// timeout is kept by `loop` and answered on the pool.
    private static func longPoll(
        _ read: ReadRequest,
        _ poll: ReadRequest.LongPoll,
        ceiling: Duration,
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
        loop.scheduleTask(in: TimeAmount(min(.milliseconds(Int64(poll.timeoutMilliseconds)), ceiling))) {
            store.cancelLACWait(ledgerID: read.ledgerID, token: token)
            // A pool that stopped answers here, unless the LAC answered first.
            let respondOnce: @Sendable (BookieResponse) -> Void = { response in if answered.claim() { respond(response) } }
            Self.offload(id, .read, to: pool, store: store, respond: respondOnce) { store in
                answerOnce((try? store.ledgerState(read.ledgerID)?.lastAddConfirmed) ?? -1, true)
            }
        }
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
}

/// A flag that exactly one caller can claim.
private final class Once: Sendable {
    private let claimed = Atomic(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !self.claimed.exchange(true, ordering: .acquiringAndReleasing)
    }
}
