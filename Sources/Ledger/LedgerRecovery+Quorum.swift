import BookieWire
import NIOCore

extension LedgerRecovery {
    /// Sends one request to each of `bookies` at once and hands each answer to `settle` as
    /// it arrives. Returns `settle`'s first verdict as soon as it gives one, or nil once
    /// every bookie answered without one. After a verdict, answers still coming in within
    /// `grace` (when given) also go to `settle`; requests left then are abandoned, so a
    /// hung bookie costs no timeout once the outcome is decided.
    func ask<Verdict: Sendable>(
        _ bookies: [String],
        grace: Duration? = nil,
        _ request: BookieRequest.Body,
        settle: (String, Result<BookieResponse, LedgerError>) -> Verdict?
    ) async -> Verdict? {
        await withTaskGroup(of: (String, Result<BookieResponse, LedgerError>)?.self) { group in
            for bookie in bookies {
                group.addTask { (bookie, await self.client.request(bookie, request)) }
            }
            var verdict: Verdict?
            var outstanding = bookies.count
            while outstanding > 0, let next = await group.next() {
                guard let (bookie, answer) = next else { break }  // The grace ran out.
                outstanding -= 1
                guard let decided = settle(bookie, answer), verdict == nil else { continue }
                verdict = decided
                guard let grace, outstanding > 0 else { break }
                let clock = self.client.clock
                group.addTask {
                    try? await clock.sleep(for: grace)
                    return nil
                }
            }
            group.cancelAll()
            return verdict
        }
    }

    /// Fences the ledger on `ensemble`. Done once every write quorum has `Qw − Qa + 1`
    /// fenced bookies (then no entry can get an ack quorum without one of them), plus a
    /// short grace for the other bookies to answer too. Returns the highest LAC the fenced
    /// bookies reported and which bookies are fenced.
    func fence(_ metadata: LedgerMetadata, _ ensemble: [String]) async throws -> (lac: Int64, fenced: Set<String>) {
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: .max, fence: true, ledgerKey: metadata.key)
        let needed = metadata.writeQuorum - metadata.ackQuorum + 1
        let quorums = (0..<metadata.ensembleSize).map {
            LedgerMetadata.writeSetIndices(Int64($0), ensembleSize: metadata.ensembleSize, writeQuorum: metadata.writeQuorum).map { ensemble[$0] }
        }
        var fenced: Set<String> = []
        var lac: Int64 = -1
        var problems: [String] = []
        let decided = await self.ask(ensemble, grace: self.client.configuration.speculativeReadTimeout, .read(read)) { bookie, answer -> Bool? in
            switch answer {
            case .success(let response):
                guard case .read(_, _, let reported, _) = response.body else {
                    problems.append(response.error(from: bookie).message)
                    return nil
                }
                fenced.insert(bookie)
                lac = max(lac, reported)
            case .failure(let error):
                problems.append(error.message)
                return nil
            }
            return quorums.allSatisfy { $0.filter(fenced.contains).count >= needed } ? true : nil
        }
        guard decided != nil else {
            throw LedgerError(
                .recoveryFailed,
                "ledger \(self.ledgerID): fenced \(fenced.count) of \(ensemble.count) bookies, but a write quorum needs \(needed) fenced; "
                    + "it stays IN_RECOVERY until more bookies are reachable (\(problems.joined(separator: "; ")))"
            )
        }
        return (lac, fenced)
    }

    /// What recovery learnt about one entry past the last confirmed one.
    enum ForwardRead: Sendable {
        /// A replica has it: it is rewritten and recovery reads on.
        case found(LedgerEntry, ByteBuffer)
        /// Too few replicas can have it for it to have been confirmed: the ledger ends before it.
        case absent
        /// The answers decide nothing (recovery fails and is tried again later).
        case failed(any Error)
    }

    /// Decides entries `first..<first + count` at once (see ``readForward(_:_:)``); the
    /// results are in entry order. Those past the ledger's end only cost a read.
    ///
    /// The results are one flat enum, never an optional inside a `Result` inside an
    /// optional: optimized builds of Swift 6.3 lost `.success(nil)` answers (the entry
    /// after the last) stored that way, and recovery could never finish.
    func readForward(from first: Int64, count: Int, _ metadata: LedgerMetadata) async -> [ForwardRead] {
        await withTaskGroup(of: (Int, ForwardRead).self) { group in
            for offset in 0..<count {
                let entryID = first + Int64(offset)
                group.addTask {
                    do {
                        guard let (entry, bytes) = try await self.readForward(entryID, metadata) else { return (offset, .absent) }
                        return (offset, .found(entry, bytes))
                    } catch {
                        return (offset, .failed(error))
                    }
                }
            }
            var results = [ForwardRead](
                repeating: .failed(LedgerError(.recoveryFailed, "ledger \(self.ledgerID): no answer about an entry from \(first)")), count: count
            )
            while let (offset, result) = await group.next() { results[offset] = result }
            return results
        }
    }

    /// The entry `entryID` with its encoded bytes if a replica has it; nil if enough
    /// replicas say it is absent (`Qw − Qa + 1`: then fewer than `Qa` could have it, so it
    /// was never confirmed). Decided by the first answers that settle it.
    func readForward(_ entryID: Int64, _ metadata: LedgerMetadata) async throws -> (entry: LedgerEntry, bytes: ByteBuffer)? {
        enum Found: Sendable {
            case entry(LedgerEntry, ByteBuffer)
            case absent
        }
        let replicas = metadata.writeSet(for: entryID)
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(entryID), fence: true, ledgerKey: metadata.key)
        var absent = 0
        var problems: [String] = []
        let found = await self.ask(replicas, .read(read)) { bookie, answer -> Found? in
            switch answer {
            case .success(let response):
                guard case .read(_, _, _, let entries) = response.body else {
                    problems.append(response.error(from: bookie).message)
                    return nil
                }
                guard let bytes = entries.first else {
                    absent += 1
                    return absent >= metadata.writeQuorum - metadata.ackQuorum + 1 ? .absent : nil
                }
                switch LedgerReader.verify(bytes, ledgerID: self.ledgerID, entryID: entryID, bookie: bookie) {
                case .success(let entry): return .entry(entry, bytes)
                case .failure(let error): problems.append(error.message)
                }
            case .failure(let error):
                problems.append(error.message)
            }
            return nil
        }
        switch found {
        case .entry(let entry, let bytes): return (entry, bytes)
        case .absent: return nil
        case nil:
            throw LedgerError(
                .recoveryFailed,
                "ledger \(self.ledgerID): cannot tell whether entry \(entryID) exists (\(absent) of \(replicas.count) replicas say absent): "
                    + problems.joined(separator: "; ")
            )
        }
    }

    /// A confirmed entry, for its length field: from whichever replica returns it first.
    func entry(_ entryID: Int64, of metadata: LedgerMetadata) async throws -> LedgerEntry {
        let read = ReadRequest(ledgerID: UInt64(self.ledgerID), firstEntryID: UInt64(entryID))
        let found = await self.ask(metadata.writeSet(for: entryID), .read(read)) { bookie, answer -> LedgerEntry? in
            guard case .success(let response) = answer, case .read(_, _, _, let entries) = response.body, let bytes = entries.first,
                case .success(let entry) = LedgerReader.verify(bytes, ledgerID: self.ledgerID, entryID: entryID, bookie: bookie)
            else { return nil }
            return entry
        }
        guard let found else { throw LedgerError(.recoveryFailed, "ledger \(self.ledgerID): no replica returned confirmed entry \(entryID)") }
        return found
    }
}
