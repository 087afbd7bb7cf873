import Metadata
import NIOCore

extension LedgerWriter {
    func bookieFailed(_ index: Int, _ bookie: String) {
        guard self.terminal == nil, !self.failed.contains(index) else { return }
        self.failed.insert(index)
        self.client.bookies.markFailed(bookie)
        self.changeEnsemble()
    }

    /// Replaces the failed bookies from the first unconfirmed entry on. Runs one change at
    /// a time; failures that arrive meanwhile are handled by the next.
    func changeEnsemble() {
        guard !self.changingEnsemble, !self.failed.isEmpty, self.terminal == nil else { return }
        self.changingEnsemble = true
        let replacing = self.failed
        Task {
            try? await self.client.refreshBookies()
            self.eventLoop.execute { self.storeEnsembleChange(replacing) }
        }
    }

    private func storeEnsembleChange(_ replacing: Set<Int>) {
        let current = self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies
        let replacements: [String]
        do {
            let racks = Set(current.enumerated().filter { !replacing.contains($0.offset) }.compactMap { self.client.bookies.rack(of: $0.element) })
            // A quarantined bookie recently failed: better to go on without one for now.
            replacements = try self.client.bookies.choose(replacing.count, excluding: Set(current), racksInUse: racks, allowQuarantined: false)
        } catch {
            // None to be had: go on with the bookies left, and try again soon. A failed
            // bookie that is back meanwhile (registered, writable, out of quarantine) takes
            // its adds again where it is: with fewer spare bookies than failed ones (two of
            // a 3-bookie ensemble killed in turn, among four bookies), no change could ever
            // be made, and the adds waited for ever after every bookie was back.
            self.changingEnsemble = false
            let back = replacing.filter { self.client.bookies.isUsable(current[$0]) }
            if !back.isEmpty { self.retryInPlace(back) }
            self.confirmReady()
            if !self.failed.isEmpty { self.client.clock.schedule(in: .seconds(1), on: self.eventLoop) { self.changeEnsemble() } }
            return
        }
        var ensemble = current
        for (index, bookie) in zip(replacing.sorted(), replacements) { ensemble[index] = bookie }
        var updated = self.metadata
        let start = self.confirmed + 1
        if updated.ensembles[updated.ensembles.count - 1].firstEntryID == start {
            updated.ensembles[updated.ensembles.count - 1].bookies = ensemble
        } else {
            updated.ensembles.append(.init(firstEntryID: start, bookies: ensemble))
        }
        let version = self.version
        let store = self.client.metadata
        let key = ClusterLayout.ledger(UInt64(self.ledgerID))
        Task { [updated] in
            let outcome: Result<Int64, any Error>
            do {
                // A change the store applied but whose answer was lost is read back: it
                // holds, and the bookies it replaced no longer count.
                outcome = .success(try await store.putReconciled(key, value: try updated.encoded(), expecting: .version(version)))
            } catch {
                outcome = .failure(error)
            }
            let reread = try? await self.client.readMetadata(self.ledgerID)
            self.eventLoop.execute { self.ensembleChangeStored(updated, outcome, reread: reread) }
        }
    }

    private func ensembleChangeStored(_ updated: LedgerMetadata, _ outcome: Result<Int64, any Error>, reread: (LedgerMetadata, Int64)?) {
        guard self.terminal == nil else { return }
        self.changingEnsemble = false
        switch outcome {
        case .success(let version):
            self.adopt(updated, version: version)
            self.confirmReady()
            self.changeEnsemble()
        case .failure:
            if let (current, version) = reread {
                guard current.state == .open else {
                    return self.fail(LedgerError(.fenced, "ledger \(self.ledgerID) was \(current.state == .closed ? "closed" : "fenced") by someone else"))
                }
                // The store may hold this change after all: go by what it holds.
                self.adopt(current, version: version)
                self.confirmReady()
            }
            self.client.clock.schedule(in: .milliseconds(100), on: self.eventLoop) { self.changeEnsemble() }
        }
    }

    /// Bookies at `indices` of the last ensemble, failed before, are back: they are no
    /// longer failed, and get again the pending adds of their write sets they have not
    /// acknowledged.
    private func retryInPlace(_ indices: Set<Int>) {
        self.failed.subtract(indices)
        for add in self.pending[self.pendingStart...] {
            for index in self.writeSet(add.entryID) where indices.contains(index) && add.acknowledged & (1 << index) == 0 {
                self.send(add, to: index)
            }
        }
    }

    /// Takes `stored` (this ledger's metadata as stored, still open) as the writer's own.
    /// Where its last ensemble has another bookie at an index than before, that index is
    /// no longer failed, acks from the bookie it replaced no longer count for the entries
    /// of that ensemble, and those entries go to the new bookie.
    private func adopt(_ stored: LedgerMetadata, version: Int64) {
        let before = self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies
        let last = stored.ensembles[stored.ensembles.count - 1]
        self.metadata = stored
        self.version = version
        let changed = Set(last.bookies.indices.filter { last.bookies[$0] != before[$0] })
        guard !changed.isEmpty else { return }
        self.failed.subtract(changed)
        for add in self.pending[self.pendingStart...] where add.entryID >= last.firstEntryID {
            for index in self.writeSet(add.entryID) where changed.contains(index) {
                add.acknowledged &= ~(1 << index)
                self.send(add, to: index)
            }
        }
    }
}
