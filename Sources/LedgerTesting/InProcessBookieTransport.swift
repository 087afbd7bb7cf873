public import BookieWire
public import Ledger
public import NIOCore

/// The ledger client's transport to an ``InProcessBookie``: requests go to the bookie as
/// values and its answers come back on the client's event loop, never within the call
/// that sent the request.
///
/// A request the bookie drops, holds or delays (``BookieFault``) times out after its
/// timeout on the cluster's clock; one it serves at once is answered by the store without
/// a timer. An add is encoded here with the digest the writer computed (a copy of the
/// payload, as a socket write would make).
public final class InProcessBookieTransport: BookieTransport, @unchecked Sendable {
    private let bookie: InProcessBookie
    private let eventLoop: any EventLoop
    private var outstanding: [UInt64: Callback] = [:]
    private var timers: [UInt64: Task<Void, Never>] = [:]
    private var nextRequestID: UInt64 = 1
    public var onFailure: ((LedgerError) -> Void)?

    /// A transport to `bookie`, confined to `eventLoop` (the client's).
    public init(bookie: InProcessBookie, eventLoop: any EventLoop) {
        self.bookie = bookie
        self.eventLoop = eventLoop
    }

    @discardableResult
    public func add(_ entry: LedgerEntry, digest: UInt32, ledgerKey: [UInt8], recovery: Bool, timeout: TimeAmount, callback: @escaping Callback) -> UInt64 {
        var bytes = ByteBuffer()
        bytes.reserveCapacity(entry.encodedSize)
        entry.writeHeader(into: &bytes, digest: digest)
        bytes.writeImmutableBuffer(entry.payload)
        return self.send(.add(entry: bytes, ledgerKey: ledgerKey, recovery: recovery), timeout: timeout, callback: callback)
    }

    @discardableResult
    public func send(_ request: BookieRequest.Body, timeout: TimeAmount, callback: @escaping Callback) -> UInt64 {
        self.eventLoop.preconditionInEventLoop()
        let id = self.nextRequestID
        self.nextRequestID += 1
        self.outstanding[id] = callback
        let loop = self.eventLoop
        let deferred = self.bookie.handle(request) { answer in
            loop.execute { self.answered(id, answer) }
        }
        if deferred, self.outstanding[id] != nil {
            let clock = self.bookie.clock
            self.timers[id] = Task {
                do {
                    try await clock.sleep(for: .nanoseconds(timeout.nanoseconds))
                } catch {
                    return
                }
                loop.execute { self.timedOut(id) }
            }
        }
        return id
    }

    public func cancel(_ id: UInt64, _ error: LedgerError) {
        self.eventLoop.preconditionInEventLoop()
        self.timers.removeValue(forKey: id)?.cancel()
        self.outstanding.removeValue(forKey: id)?(.failure(error))
    }

    public func close() {
        self.eventLoop.preconditionInEventLoop()
        let failed = self.outstanding
        self.outstanding.removeAll()
        for timer in self.timers.values { timer.cancel() }
        self.timers.removeAll()
        let error = LedgerError(.bookieUnavailable, "the transport to bookie \(self.bookie.id) was closed")
        for id in failed.keys.sorted() { failed[id]!(.failure(error)) }
    }

    private func answered(_ id: UInt64, _ answer: InProcessBookie.Answer) {
        self.timers.removeValue(forKey: id)?.cancel()
        guard let callback = self.outstanding.removeValue(forKey: id) else { return }
        switch answer {
        case .response(let response):
            callback(.success(response))
        case .unavailable:
            let error = LedgerError(.bookieUnavailable, "cannot reach bookie \(self.bookie.id) (in process, down)")
            self.onFailure?(error)
            callback(.failure(error))
        }
    }

    private func timedOut(_ id: UInt64) {
        self.timers[id] = nil
        guard let callback = self.outstanding.removeValue(forKey: id) else { return }
        let error = LedgerError(.timeout, "bookie \(self.bookie.id) did not answer in time")
        self.onFailure?(error)
        callback(.failure(error))
    }
}
