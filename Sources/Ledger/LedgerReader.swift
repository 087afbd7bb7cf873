import BookieWire
public import NIOCore
import Synchronization

/// Reads a ledger's confirmed entries: each from one replica, failing over to the next,
/// with a speculative read to another replica when the first is slow. Every entry's digest
/// and ids are checked before its payload is returned.
public final class LedgerReader: Sendable {
    public let ledgerID: Int64
    public let metadata: LedgerMetadata
    private let client: LedgerClient
    private let confirmed: Atomic<Int64>

    init(client: LedgerClient, ledgerID: Int64, metadata: LedgerMetadata, lastAddConfirmed: Int64 = -1) {
        self.client = client
        self.ledgerID = ledgerID
        self.metadata = metadata
        self.confirmed = Atomic(metadata.state == .closed ? metadata.lastEntryID : lastAddConfirmed)
    }

    /// The last entry known to be confirmed (for a closed ledger, its last entry).
    public var lastAddConfirmed: Int64 { self.confirmed.load(ordering: .acquiring) }

    private func raise(_ lac: Int64) -> Int64 {
        self.confirmed.max(lac, ordering: .acquiringAndReleasing).newValue
    }

    /// Asks the bookies of the last ensemble for their LAC and returns the highest (each
    /// knows only what the writer told it, so this never runs ahead of the truth).
    @discardableResult
    public func readLastAddConfirmed() async throws -> Int64 {
        if self.metadata.state == .closed { return self.metadata.lastEntryID }
        let ledgerID = UInt64(self.ledgerID)
        // Enough answers that every write quorum is covered beyond its ack quorum, or all.
        let enough = self.metadata.writeQuorum - self.metadata.ackQuorum + 1
        let answers = await withTaskGroup(of: Result<BookieResponse, LedgerError>.self) { group in
            for bookie in self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies {
                group.addTask {
                    await self.client.request(bookie, .readLAC(ledgerID: ledgerID))
                }
            }
            var answers: [Result<BookieResponse, LedgerError>] = []
            for await answer in group {
                answers.append(answer)
                if answers.filter({ if case .success(let response) = $0 { response.status == .ok } else { false } }).count >= enough {
                    group.cancelAll()
                }
            }
            return answers
        }
        var best: Int64?
        for case .success(let response) in answers {
            if case .readLAC(_, let lac) = response.body { best = max(best ?? lac, lac) }
        }
        guard let best else {
            throw LedgerError(.bookieUnavailable, "no bookie of ledger \(self.ledgerID) told its LAC")
        }
        return self.raise(best)
    }

    /// Waits until the LAC passes `previous` (or `timeout` ends) and returns the LAC.
    public func waitForEntries(after previous: Int64, timeout: Duration) async throws -> Int64 {
        let known = self.lastAddConfirmed
        if known > previous || self.metadata.state == .closed { return known }
        let next = previous + 1
        let milliseconds = UInt32(clamping: timeout.nanoseconds / 1_000_000)
        var lastError = LedgerError(.bookieUnavailable, "no bookie of ledger \(self.ledgerID) answered")
        for bookie in self.metadata.writeSet(for: next) {
            let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(next), longPoll: .init(previousLAC: previous, timeoutMilliseconds: milliseconds))
            let answer = await self.client.request(bookie, .read(read), timeout: timeout + self.client.configuration.requestTimeout)
            switch answer {
            case .success(let response):
                if case .read(_, _, let lac, _) = response.body { return self.raise(lac) }
                lastError = response.error(from: bookie)
            case .failure(let error):
                lastError = error
            }
        }
        throw lastError
    }

    /// The payload of a confirmed entry.
    public func read(_ entryID: Int64) async throws -> ByteBuffer {
        guard entryID >= 0, entryID <= self.lastAddConfirmed else {
            throw LedgerError(.noSuchEntry, "entry \(entryID) of ledger \(self.ledgerID) is past the last confirmed entry \(self.lastAddConfirmed)")
        }
        return try await self.fetch(entryID)
    }

    /// The payloads of confirmed entries `first...last`, in order.
    public func read(from first: Int64, through last: Int64) async throws -> [ByteBuffer] {
        guard first >= 0, first <= last, last <= self.lastAddConfirmed else {
            throw LedgerError(.noSuchEntry, "entries \(first)...\(last) of ledger \(self.ledgerID) are not all confirmed (LAC \(self.lastAddConfirmed))")
        }
        if self.metadata.ensembleSize == self.metadata.writeQuorum {
            // Every bookie of a segment has all its entries: read them in batches.
            var payloads: [ByteBuffer] = []
            var next = first
            while next <= last {
                let segmentEnd = self.metadata.ensembles.first { $0.firstEntryID > next }.map { $0.firstEntryID - 1 } ?? .max
                let batch = await self.batch(from: next, through: min(last, segmentEnd))
                if batch.isEmpty {
                    payloads.append(try await self.fetch(next))  // One at a time, with failover.
                    next += 1
                } else {
                    payloads += batch
                    next += Int64(batch.count)
                }
            }
            return payloads
        }
        return try await withThrowingTaskGroup(of: (Int64, ByteBuffer).self) { group in
            var results: [Int64: ByteBuffer] = [:]
            var next = first
            let width = 32
            while next <= last || !group.isEmpty {
                while next <= last, next - first - Int64(results.count) < width {
                    let entryID = next
                    group.addTask { (entryID, try await self.fetch(entryID)) }
                    next += 1
                }
                if let (entryID, payload) = try await group.next() { results[entryID] = payload }
            }
            return (first...last).map { results[$0]! }
        }
    }

    /// Up to `last − first + 1` consecutive entries from the first replica that returns
    /// any (a bookie stops at an entry it lacks); empty when none does.
    private func batch(from first: Int64, through last: Int64) async -> [ByteBuffer] {
        let read = ReadRequest(
            ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(first), maxEntries: UInt32(clamping: last - first + 1), maxBytes: 4 << 20
        )
        for bookie in self.metadata.ensemble(for: first) {
            guard case .success(let response) = await self.client.request(bookie, .read(read)),
                case .read(_, _, _, let entries) = response.body, !entries.isEmpty
            else { continue }
            var payloads: [ByteBuffer] = []
            for (offset, bytes) in entries.enumerated() {
                guard case .success(let entry) = Self.verify(bytes, ledgerID: self.ledgerID, entryID: first + Int64(offset), bookie: bookie) else { break }
                payloads.append(entry.payload)
            }
            if !payloads.isEmpty { return payloads }
        }
        return []
    }

    /// Reads an entry from its write set: one replica at a time, another after each failure
    /// and after each speculative timeout, until one answers with the entry.
    func fetch(_ entryID: Int64) async throws -> ByteBuffer {
        let replicas = self.metadata.writeSet(for: entryID)
        let ledgerID = self.ledgerID
        let speculative = self.client.configuration.speculativeReadTimeout
        let clock = self.client.clock
        return try await withThrowingTaskGroup(of: Result<ByteBuffer, LedgerError>?.self) { group in
            var launched = 0
            var failures: [LedgerError] = []
            func launch() {
                guard launched < replicas.count else { return }
                let bookie = replicas[launched]
                launched += 1
                group.addTask { await self.fetch(entryID, from: bookie) }
                group.addTask {
                    try? await clock.sleep(for: speculative)
                    return nil  // Time to ask another replica as well.
                }
            }
            launch()
            while let outcome = try await group.next() {
                switch outcome {
                case .success(let payload)?:
                    group.cancelAll()
                    return payload
                case .failure(let error)?:
                    failures.append(error)
                    if failures.count == replicas.count {
                        group.cancelAll()
                        let code: LedgerError.Code = failures.allSatisfy { $0.code == .noSuchEntry } ? .noSuchEntry : .bookieUnavailable
                        throw LedgerError(code, "entry \(entryID) of ledger \(ledgerID): " + failures.map(\.message).joined(separator: "; "))
                    }
                    launch()
                case nil:
                    launch()
                }
            }
            throw LedgerError(.bookieUnavailable, "entry \(entryID) of ledger \(ledgerID) could not be read")
        }
    }

    func fetch(_ entryID: Int64, from bookie: String) async -> Result<ByteBuffer, LedgerError> {
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(entryID))
        switch await self.client.request(bookie, .read(read)) {
        case .success(let response):
            guard case .read(_, _, _, let entries) = response.body, let bytes = entries.first else {
                return .failure(response.error(from: bookie))
            }
            return Self.verify(bytes, ledgerID: self.ledgerID, entryID: entryID, bookie: bookie).map(\.payload)
        case .failure(let error):
            return .failure(error)
        }
    }

    /// Decodes an entry a bookie returned, checking its digest and ids.
    static func verify(_ bytes: ByteBuffer, ledgerID: Int64, entryID: Int64, bookie: String) -> Result<LedgerEntry, LedgerError> {
        do {
            let entry = try LedgerEntry(decoding: bytes)
            guard entry.ledgerID == UInt64(ledgerID), entry.entryID == UInt64(entryID) else {
                return .failure(LedgerError(.corruptEntry, "bookie \(bookie) returned \(entry.ledgerID):\(entry.entryID) for \(ledgerID):\(entryID)"))
            }
            return .success(entry)
        } catch {
            return .failure(LedgerError(.corruptEntry, "bookie \(bookie) returned a damaged entry \(ledgerID):\(entryID): \(error.message)"))
        }
    }
}
