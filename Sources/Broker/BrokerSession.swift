import Metadata
import Synchronization

/// The broker's metadata session, and the lease its ownership rests on.
///
/// Every bundle the broker owns is an ephemeral key of this session, so another broker
/// can take a bundle only once the store has ended the session: no sooner than `ttl`
/// after the last keep-alive the store received. The broker counts its lease from when it
/// *sent* each successful keep-alive, which is earlier, so its lease always ends before
/// the store can end the session. ``isValid(at:)`` is what a topic asks before each
/// receipt and each dispatch: a broker that was paused past its lease (SIGSTOP, a stall)
/// sees the lease over the moment it runs again, before anything else, and acknowledges
/// nothing more.
final class BrokerSession: Sendable {
    let metadata: any MetadataStore
    let ttl: Duration
    /// Instants are kept as nanoseconds after this one, so that the lease is an atomic.
    private let origin = ContinuousClock.now
    /// The end of the lease, in nanoseconds after `origin` (0: no lease).
    private let leaseEnd = Atomic<Int64>(0)
    /// The session, with a number that grows with each new one.
    private let state = Mutex<(session: MetadataSession?, generation: Int)>((nil, 0))

    init(metadata: any MetadataStore, ttl: Duration) {
        self.metadata = metadata
        self.ttl = ttl
    }

    /// Whether what the broker owns in its current session may be used at `now`.
    func isValid(at now: ContinuousClock.Instant = .now) -> Bool {
        self.nanoseconds(now) < self.leaseEnd.load(ordering: .acquiring)
    }

    /// The current session and its number, when its lease runs.
    func current() -> (session: MetadataSession, generation: Int)? {
        guard self.isValid(), let (session, generation) = self.state.withLock({ state in state.session.map { ($0, state.generation) } }) else {
            return nil
        }
        return (session, generation)
    }

    /// Opens a new session; its lease counts from before the request. The previous
    /// session, whose lease ended, is closed (best effort), so that the keys it still holds
    /// in the store go now rather than when the store expires it.
    @discardableResult
    func open() async throws -> (session: MetadataSession, generation: Int) {
        let sentAt = ContinuousClock.now
        let session = try await self.metadata.createSession(ttl: self.ttl)
        let (previous, generation) = self.state.withLock { state in
            defer {
                state.session = session
                state.generation += 1
            }
            return (state.session, state.generation + 1)
        }
        self.leaseEnd.store(self.nanoseconds(sentAt + self.ttl), ordering: .releasing)
        if let previous, previous != session { try? await self.metadata.closeSession(previous) }
        return (session, generation)
    }

    /// Keeps the session of number `generation` alive, three keep-alives per TTL, until
    /// the task is cancelled (then it throws `CancellationError`). Throws when the session
    /// is lost: the store ended it, or the lease ran out before a keep-alive could be
    /// sent (the process was paused) or succeed (the store was unreachable).
    func keepAlive(generation: Int) async throws {
        while true {
            try await Task.sleep(for: self.ttl / 3)
            let sentAt = ContinuousClock.now
            guard self.isValid(at: sentAt), let session = self.state.withLock({ $0.generation == generation ? $0.session : nil }) else {
                throw MetadataError(.sessionExpired, "the broker's lease ran out before its session was kept alive")
            }
            do {
                try await self.metadata.keepAlive(session)
                self.leaseEnd.store(self.nanoseconds(sentAt + self.ttl), ordering: .releasing)
            } catch let error as MetadataError where error.code == .unavailable {
                continue  // Try again at the next tick, while the lease lasts.
            }
        }
    }

    /// Ends the lease at once; what the session owns is no longer used.
    func invalidate() {
        self.leaseEnd.store(0, ordering: .releasing)
    }

    /// Ends the lease and the session, deleting its ephemeral keys.
    func close() async {
        self.invalidate()
        let session = self.state.withLock { state in
            defer { state.session = nil }
            return state.session
        }
        if let session { try? await self.metadata.closeSession(session) }
    }

    private func nanoseconds(_ instant: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (instant - self.origin).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
