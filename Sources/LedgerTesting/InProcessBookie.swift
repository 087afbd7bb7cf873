public import BookieStorage
public import BookieWire
import ClusterTesting
import Dispatch
import Synchronization

/// A bookie inside the test process: a real ``BookieStore`` in a temporary directory
/// (journal not synced, as on tmpfs), serving the ledger client's requests the way the
/// bookie server does — fencing reads, long polls, LAC reads and writes — through an
/// ``InProcessBookieTransport`` instead of a socket.
///
/// A test steers it with fault hooks: ``isDown`` (every request fails as on a refused
/// connection), ``setFault(_:)`` (drop, fail, delay or hold chosen requests), and
/// ``releaseHeld()``. It counts what it received per operation. Lock order: the bookie's
/// one lock is a leaf; the store is never called and no request is answered under it.
public final class InProcessBookie: Sendable {
    public typealias FaultRule = @Sendable (BookieRequest.Body) -> BookieFault?

    private struct State {
        var closed = false
        var down = false
        var rule: FaultRule?
        var held: [@Sendable () -> Void] = []
        var received: [BookieOperation: Int] = [:]
    }

    public let id: String
    /// The store; a test may read it directly (what did this bookie keep?).
    public let store: BookieStore
    let directory: TemporaryDirectory
    let clock: any Clock<Duration>
    /// Blocking store reads run here, never on the client's event loop.
    let readQueue: DispatchQueue
    private let state = Mutex(State())

    /// Opens a bookie with a fresh store in a temporary directory; delays and long polls
    /// run on `clock`.
    public init(id: String, clock: any Clock<Duration> = ContinuousClock()) throws {
        self.id = id
        self.clock = clock
        self.directory = try TemporaryDirectory(label: "in-process-\(id)")
        self.store = try BookieStore.open(
            .init(
                journal: .init(directory: self.directory.file("journal"), syncEachGroup: false, preallocationStep: 64 << 10),
                ledgerDirectory: self.directory.file("ledgers")
            )
        )
        self.readQueue = DispatchQueue(label: "in-process-bookie-\(id)")
    }

    /// Closes the store and removes its directory. Requests still held are dropped; ones
    /// arriving from now on, or whose work had not reached the store yet, fail with
    /// `ioError`. Every store call runs on the read queue, so draining it first means none
    /// runs on a closed store.
    public func shutdown() {
        self.state.withLock { state in
            state.closed = true
            state.held.removeAll()
        }
        self.readQueue.sync {}
        self.store.close()
        self.directory.remove()
    }

    /// Whether ``shutdown()`` has begun.
    var isClosed: Bool { self.state.withLock { $0.closed } }

    /// Whether the bookie is unreachable: every request fails at once with
    /// `bookieUnavailable`, as on a refused connection (its registration stays).
    public var isDown: Bool {
        get { self.state.withLock { $0.down } }
        set { self.state.withLock { $0.down = newValue } }
    }

    /// Sets the rule deciding, per request, a fault instead of serving it (nil: serve);
    /// nil removes the rule.
    public func setFault(_ rule: FaultRule?) {
        self.state.withLock { $0.rule = rule }
    }

    /// Serves the requests held by ``BookieFault/hold``, in the order they came.
    public func releaseHeld() {
        let held = self.state.withLock { state in
            defer { state.held.removeAll() }
            return state.held
        }
        for serve in held { serve() }
    }

    /// How many requests of `operation` reached the bookie (down or not, faulted or not).
    public func received(_ operation: BookieOperation) -> Int {
        self.state.withLock { $0.received[operation, default: 0] }
    }

    /// What became of a request.
    enum Answer: Sendable {
        case response(BookieResponse)
        /// The bookie could not be reached.
        case unavailable
    }

    /// Handles one request: applies the fault rule, then serves it. `respond` runs at most
    /// once, on any thread; never for a dropped request. Returns true when the request was
    /// dropped, held or delayed (its sender should time it out).
    func handle(_ request: BookieRequest.Body, respond: @escaping @Sendable (Answer) -> Void) -> Bool {
        let operation = BookieRequest(requestID: 0, request).operation
        let (down, rule) = self.state.withLock { state in
            state.received[operation, default: 0] += 1
            return (state.down, state.rule)
        }
        let fault = rule?(request)
        if down {
            respond(.unavailable)
            return false
        }
        let serve: @Sendable () -> Void = { self.serve(request) { respond(.response($0)) } }
        switch fault {
        case nil:
            serve()
            return false
        case .drop:
            return true
        case .unavailable:
            respond(.unavailable)
            return false
        case .fail(let status):
            respond(.response(BookieResponse.failure(0, operation, status, "bookie \(self.id) failed the request (injected)")))
            return false
        case .delay(let delay):
            let clock = self.clock
            Task {
                try? await clock.sleep(for: delay)
                serve()
            }
            return true
        case .hold:
            self.state.withLock { $0.held.append(serve) }
            return true
        }
    }
}
