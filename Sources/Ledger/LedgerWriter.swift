import BookieWire
import Metadata
public import NIOCore

/// Appends entries to an open ledger: each goes to its write quorum, and is confirmed once
/// its ack quorum has it and every earlier entry is confirmed. Completions come in entry
/// order.
///
/// When a bookie fails or times out it is replaced from the first unconfirmed entry on,
/// and the new ensemble is stored (compare-and-set) before any entry that depends on it is
/// confirmed; the caller sees no error. When no replacement is to be had, entries are
/// confirmed from the remaining bookies as long as they make an ack quorum, and the
/// replacement is tried again every second. If someone else fences or closes the ledger,
/// everything pending fails with `fenced`.
///
/// Each add carries the LAC of its send, so the bookies' LAC trails the writer's by the
/// adds in flight; when the writer goes idle, it sends the bookies its LAC (WRITE_LAC)
/// after ``LedgerClient/Configuration/explicitLACDelay``, so readers see every confirmed
/// entry and a recovery has nothing to rewrite.
///
/// All state lives on the client's event loop; the public methods may be called from
/// anywhere.
public final class LedgerWriter: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<Int64, LedgerError>) -> Void

    /// An add until it is confirmed. Its entry (ids, the LAC of its first send, the
    /// ledger's length, the payload) and the entry's digest are made once, when the add is
    /// queued: every bookie of its write set, including a replacement after an ensemble
    /// change, gets the same entry with the same payload buffer.
    final class PendingAdd {
        let entry: LedgerEntry
        let digest: UInt32
        let completion: Completion
        /// Ensemble indices that stored it, as bits.
        var acknowledged: UInt64 = 0

        var entryID: Int64 { Int64(self.entry.entryID) }
        /// The ledger's length including this entry.
        var length: UInt64 { self.entry.ledgerLength }
        var acknowledgements: Int { self.acknowledged.nonzeroBitCount }

        init(entry: LedgerEntry, digest: UInt32, completion: @escaping Completion) {
            self.entry = entry
            self.digest = digest
            self.completion = completion
        }
    }

    public let ledgerID: Int64
    let client: LedgerClient
    var eventLoop: any EventLoop { self.client.eventLoop }
    var metadata: LedgerMetadata
    var version: Int64
    private var nextEntryID: Int64 = 0
    var confirmed: Int64 = -1
    private var confirmedLength: UInt64 = 0
    private var length: UInt64 = 0
    /// Unconfirmed adds, in entry order; the first is entry `confirmed + 1`.
    var pending: [PendingAdd] = []
    var pendingStart = 0
    /// Ensemble indices whose bookie failed and is not yet replaced.
    var failed: Set<Int> = []
    var changingEnsemble = false
    var terminal: LedgerError?
    private var closeWaiters: [() -> Void] = []
    /// The highest LAC sent to the bookies, in an add or a WRITE_LAC.
    var lacSent: Int64 = -1
    /// A WRITE_LAC is due once the writer has been idle a moment.
    var lacUpdateScheduled = false

    init(client: LedgerClient, ledgerID: Int64, metadata: LedgerMetadata, version: Int64) {
        self.client = client
        self.ledgerID = ledgerID
        self.metadata = metadata
        self.version = version
    }

    // MARK: Public surface

    /// Appends an entry; returns its id once confirmed.
    @discardableResult
    public func append(_ payload: ByteBuffer) async throws -> Int64 {
        try await withCheckedThrowingContinuation { continuation in
            self.append(payload) { continuation.resume(with: $0) }
        }
    }

    /// Appends an entry; `completion` runs on the client's event loop once it is confirmed
    /// or failed. Completions run in entry order.
    public func append(_ payload: ByteBuffer, completion: @escaping Completion) {
        if self.eventLoop.inEventLoop {
            self.enqueue(payload, completion)
        } else {
            self.eventLoop.execute { self.enqueue(payload, completion) }
        }
    }

    /// The last confirmed entry.
    public var lastAddConfirmed: Int64 {
        get async { (try? await self.eventLoop.submit { self.confirmed }.get()) ?? -1 }
    }

    /// A reader of the entries confirmed so far, as a BookKeeper writer can read its own
    /// ledger: the bookies' LAC lags one entry behind the writer's, so a reader opened by
    /// ``LedgerClient/openLedger(_:)`` could not read the last confirmed entry yet.
    public var reader: LedgerReader {
        get async {
            let (metadata, confirmed) = (try? await self.eventLoop.submit { (self.metadata, self.confirmed) }.get()) ?? (self.metadata, -1)
            return LedgerReader(client: self.client, ledgerID: self.ledgerID, metadata: metadata, lastAddConfirmed: confirmed)
        }
    }

    /// The ledger's metadata as this writer last stored it.
    public var currentMetadata: LedgerMetadata {
        get async { (try? await self.eventLoop.submit { self.metadata }.get()) ?? self.metadata }
    }

    /// Waits for pending adds, then closes the ledger at the last confirmed entry and
    /// returns the closed metadata. Throws `fenced` if someone else closed it elsewhere.
    ///
    /// A close whose answer from the metadata store was lost is read back, and a ledger
    /// found closed exactly where this writer ends (by such an earlier attempt, or by a
    /// recoverer that found the same end) counts as closed by this call.
    @discardableResult
    public func close() async throws -> LedgerMetadata {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            self.eventLoop.execute {
                if self.pendingCount == 0 || self.terminal != nil {
                    continuation.resume()
                } else {
                    self.closeWaiters.append { continuation.resume() }
                }
            }
        }
        let (last, length, terminal) = try await self.eventLoop.submit { (self.confirmed, self.confirmedLength, self.terminal) }.get()
        if let terminal, terminal.code == .fenced { throw terminal }
        while true {
            var (metadata, version) = try await self.eventLoop.submit { (self.metadata, self.version) }.get()
            if metadata.state == .closed, metadata.lastEntryID == last, metadata.length == length {
                try await self.closed(metadata, version: version)
                return metadata
            }
            guard metadata.state == .open else {
                throw LedgerError(.fenced, "ledger \(self.ledgerID) was \(metadata.state == .closed ? "closed" : "fenced") by someone else")
            }
            metadata.state = .closed
            metadata.lastEntryID = last
            metadata.length = length
            let closed = metadata
            do {
                let stored = try await self.client.metadata.putReconciled(
                    ClusterLayout.ledger(UInt64(self.ledgerID)), value: try closed.encoded(), expecting: .version(version)
                )
                try await self.closed(closed, version: stored)
                return closed
            } catch let error as MetadataError where error.code == .badVersion {
                let (current, currentVersion) = try await self.client.readMetadata(self.ledgerID)
                try await self.eventLoop.submit {
                    self.metadata = current
                    self.version = currentVersion
                }.get()
            }
        }
    }

    /// Records the close (on the loop): later adds fail with `closed`.
    private func closed(_ closed: LedgerMetadata, version: Int64) async throws {
        try await self.eventLoop.submit {
            self.metadata = closed
            self.version = version
            guard self.terminal == nil else { return }
            self.terminal = LedgerError(.closed, "ledger \(self.ledgerID) is closed")
            self.client.bookies.released(closed.ensembles[closed.ensembles.count - 1].bookies)
        }.get()
    }

    // MARK: Adds

    var pendingCount: Int { self.pending.count - self.pendingStart }

    private func enqueue(_ payload: ByteBuffer, _ completion: @escaping Completion) {
        if let terminal = self.terminal { return completion(.failure(terminal)) }
        self.length += UInt64(payload.readableBytes)
        let entry = LedgerEntry(
            ledgerID: UInt64(self.ledgerID), entryID: UInt64(self.nextEntryID), lastAddConfirmed: self.confirmed,
            ledgerLength: self.length, payload: payload
        )
        self.client.configuration.testingDigestObserver?()
        let add = PendingAdd(entry: entry, digest: entry.digest, completion: completion)
        self.nextEntryID += 1
        self.pending.append(add)
        let ensembleSize = self.metadata.ensembleSize
        let first = Int(add.entryID % Int64(ensembleSize))
        for offset in 0..<self.metadata.writeQuorum {
            let index = (first + offset) % ensembleSize
            if self.failed.isEmpty || !self.failed.contains(index) { self.send(add, to: index) }
        }
    }

    func writeSet(_ entryID: Int64) -> [Int] {
        LedgerMetadata.writeSetIndices(entryID, ensembleSize: self.metadata.ensembleSize, writeQuorum: self.metadata.writeQuorum)
    }

    func send(_ add: PendingAdd, to index: Int) {
        let bookie = self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies[index]
        guard let connection = self.client.bookies.connection(bookie) else {
            return self.bookieFailed(index, bookie)
        }
        self.lacSent = max(self.lacSent, add.entry.lastAddConfirmed)
        connection.add(add.entry, digest: add.digest, ledgerKey: self.metadata.key, recovery: false, timeout: self.client.bookies.requestTimeout) { result in
            self.answered(add, index: index, bookie: bookie, result)
        }
    }

    private func answered(_ add: PendingAdd, index: Int, bookie: String, _ result: Result<BookieResponse, LedgerError>) {
        guard self.terminal == nil, add.entryID > self.confirmed,
            self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies[index] == bookie
        else { return }  // Settled meanwhile, or from a bookie since replaced.
        switch result {
        case .success(let response) where response.status == .ok:
            add.acknowledged |= 1 << index
            self.confirmReady()
        case .success(let response) where response.status == .fenced:
            self.fail(LedgerError(.fenced, "ledger \(self.ledgerID) was fenced: \(response.error(from: bookie).message)"))
        case .success, .failure:
            self.bookieFailed(index, bookie)
        }
    }

    /// Confirms the adds at the head that have their ack quorum, in order; none while an
    /// ensemble change is being stored.
    func confirmReady() {
        while !self.changingEnsemble, self.pendingStart < self.pending.count,
            self.pending[self.pendingStart].acknowledgements >= self.metadata.ackQuorum
        {
            let add = self.pending[self.pendingStart]
            self.pendingStart += 1
            self.confirmed = add.entryID
            self.confirmedLength = add.length
            add.completion(.success(add.entryID))
        }
        if self.pendingStart > 1024, self.pendingStart * 2 > self.pending.count {
            self.pending.removeFirst(self.pendingStart)
            self.pendingStart = 0
        }
        if self.pendingCount == 0 {
            self.wakeCloseWaiters()
            self.scheduleLACUpdate()
        }
    }

    func fail(_ error: LedgerError) {
        guard self.terminal == nil else { return }
        self.terminal = error
        let failing = self.pending[self.pendingStart...]
        self.pending.removeAll()
        self.pendingStart = 0
        for add in failing { add.completion(.failure(error)) }
        self.wakeCloseWaiters()
    }

    private func wakeCloseWaiters() {
        let waiters = self.closeWaiters
        self.closeWaiters.removeAll()
        for waiter in waiters { waiter() }
    }
}
