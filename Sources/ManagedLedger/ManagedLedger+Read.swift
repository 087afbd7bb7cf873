public import NIOCore
import Ledger

extension ManagedLedger {
    /// Reads up to `count` entries from `position` on (inclusive), crossing ledgers: from
    /// the cache for recent entries, else from the bookies. Returns fewer, possibly none,
    /// at the end of the log. A position before the first existing entry reads from there.
    public func read(from position: Position, count: Int) async throws -> [(Position, ByteBuffer)] {
        var entries: [(Position, ByteBuffer)] = []
        var position = self.state.normalized(position)
        while entries.count < count {
            switch self.nextReadStep(position, count - entries.count) {
            case .end:
                return entries
            case .cached(let cached):
                entries += cached
                position = self.next(after: cached[cached.count - 1].0)
            case .fetch(let ledgerID, let first, let last, let writer, let reader):
                let payloads: [ByteBuffer]
                do {
                    let reader = try await self.reader(ledgerID, writer: writer, cached: reader)
                    payloads = try await reader.read(from: first, through: last)
                } catch {
                    throw ManagedLedgerError.from(error, "reading \(ledgerID):\(first)...\(last) of \(self.name)")
                }
                for (offset, payload) in payloads.enumerated() {
                    entries.append((Position(ledgerID: ledgerID, entryID: first + Int64(offset)), payload))
                }
                position = self.next(after: Position(ledgerID: ledgerID, entryID: last))
            }
        }
        return entries
    }

    private enum ReadStep {
        case end
        case cached([(Position, ByteBuffer)])
        case fetch(ledgerID: Int64, first: Int64, last: Int64, writer: LedgerWriter?, reader: LedgerReader?)
    }

    /// What to read next at `position` (already normalized): the cached run that starts
    /// there, or the run of missing entries up to the next cached one.
    private func nextReadStep(_ position: Position, _ wanted: Int) -> ReadStep {
        let state = self.state
        guard position <= state.lastConfirmed, let info = state.ledgers.first(where: { $0.id == position.ledgerID }),
            position.entryID < info.entries
        else { return .end }
        let end = min(info.entries - 1, position.entryID + Int64(wanted) - 1)
        var cached: [(Position, ByteBuffer)] = []
        var entryID = position.entryID
        while entryID <= end, let entry = state.cache[Position(ledgerID: info.id, entryID: entryID)] {
            cached.append((Position(ledgerID: info.id, entryID: entryID), entry))
            entryID += 1
        }
        if !cached.isEmpty { return .cached(cached) }
        var last = position.entryID
        while last < end, last - position.entryID < 1000, state.cache[Position(ledgerID: info.id, entryID: last + 1)] == nil {
            last += 1
        }
        let writer = state.writer.flatMap { $0.ledgerID == info.id ? $0 : nil }
        return .fetch(ledgerID: info.id, first: position.entryID, last: last, writer: writer, reader: state.readers[info.id])
    }

    /// A reader that can read the confirmed entries of `ledgerID`: the writer's own for
    /// the current ledger, else one opened once per closed ledger.
    private func reader(_ ledgerID: Int64, writer: LedgerWriter?, cached: LedgerReader?) async throws -> LedgerReader {
        if let writer { return await writer.reader }
        if let cached { return cached }
        let reader = try await self.client.openLedger(ledgerID)
        if reader.metadata.state == .closed, self.state.ledgers.contains(where: { $0.id == ledgerID }) {
            self.state.readers[ledgerID] = reader
        }
        return reader
    }

    /// Waits until an entry after `position` is confirmed (true) or `timeout` passes, the
    /// task is cancelled or the ledger closes (false). For tailing consumers.
    public func waitForEntries(after position: Position, timeout: Duration) async -> Bool {
        if self.state.hasEntry(after: position) { return true }
        if case .closed = self.state.phase { return false }
        self.state.nextWaiterID += 1
        let id = self.state.nextWaiterID
        let delay = TimeAmount.nanoseconds(Self.nanoseconds(timeout))
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Runs at once, still isolated to the ledger: nothing changed since the check.
                let timeout = self.eventLoop.scheduleTask(in: delay) { self.assumeIsolated { $0.expireWaiter(id) } }
                self.state.waiters[id] = Waiter(position: position, continuation: continuation, timeout: timeout)
                if Task.isCancelled { self.expireWaiter(id) }
            }
        } onCancel: {
            self.eventLoop.execute { self.assumeIsolated { $0.expireWaiter(id) } }
        }
    }

    private func expireWaiter(_ id: UInt64) {
        guard let waiter = self.state.waiters.removeValue(forKey: id) else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(returning: false)
    }
}
