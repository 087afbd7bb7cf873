import BookieWire
import Metadata
import NIOCore

extension LedgerRecovery {
    /// Writes the entries recovery found to full write quorums of the ledger's last
    /// ensemble. A bookie that fails (or did not answer the fence) is replaced through an
    /// ensemble change from the first entry of the batch on, stored by compare-and-set
    /// before the close, and the batch is written again to the new write sets. When no
    /// replacement is to be had, an ack quorum of each write set is enough.
    struct Rewriter {
        let recovery: LedgerRecovery
        /// The metadata as stored (IN_RECOVERY), with the ensemble changes made so far.
        var metadata: LedgerMetadata
        var version: Int64
        /// Bookies that failed during this recovery: never chosen as replacements.
        var failed: Set<String>

        private var ledgerID: Int64 { self.recovery.ledgerID }
        private var client: LedgerClient { self.recovery.client }

        /// Writes `batch` (consecutive entries with their encoded bytes, all past the
        /// entries already written) as recovery adds.
        mutating func write(_ batch: [(entryID: Int64, bytes: ByteBuffer)]) async throws {
            guard let first = batch.first?.entryID else { return }
            var replacing = Set(self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies).intersection(self.failed)
            var replaceable = true
            while true {
                if !replacing.isEmpty, replaceable {
                    replaceable = try await self.replace(replacing, from: first)
                }
                let stored = await self.add(batch)
                var failing: Set<String> = []
                for (entryID, _) in batch {
                    failing.formUnion(Set(self.metadata.writeSet(for: entryID)).subtracting(stored[entryID, default: []]))
                }
                if failing.isEmpty { return }
                self.failed.formUnion(failing)
                replacing = failing.intersection(self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies)
                if !replaceable || replacing.isEmpty {
                    // Nobody to replace them with: an ack quorum of each write set will do.
                    if let entry = batch.first(where: { stored[$0.entryID, default: []].count < self.metadata.ackQuorum }) {
                        let count = stored[entry.entryID, default: []].count
                        throw LedgerError(
                            .recoveryFailed,
                            "ledger \(self.ledgerID): only \(count) bookies took recovered entry \(entry.entryID), need \(self.metadata.ackQuorum); "
                                + "it stays IN_RECOVERY until more bookies are reachable"
                        )
                    }
                    return
                }
            }
        }

        /// Sends every entry of `batch` to its write set at once; returns, per entry, the
        /// bookies that stored it.
        private func add(_ batch: [(entryID: Int64, bytes: ByteBuffer)]) async -> [Int64: Set<String>] {
            let key = self.metadata.key
            let client = self.client
            return await withTaskGroup(of: (Int64, String, Bool).self) { group in
                for (entryID, bytes) in batch {
                    for bookie in self.metadata.writeSet(for: entryID) {
                        group.addTask {
                            let answer = await client.request(bookie, .add(entry: bytes, ledgerKey: key, recovery: true))
                            if case .success(let response) = answer, response.status == .ok { return (entryID, bookie, true) }
                            return (entryID, bookie, false)
                        }
                    }
                }
                var stored: [Int64: Set<String>] = [:]
                for await (entryID, bookie, ok) in group where ok { stored[entryID, default: []].insert(bookie) }
                return stored
            }
        }

        /// Replaces `bookies` of the last ensemble from entry `first` on and stores the
        /// change. Returns false, changing nothing, when there are not enough bookies to
        /// replace them with.
        private mutating func replace(_ bookies: Set<String>, from first: Int64) async throws -> Bool {
            let current = self.metadata.ensembles[self.metadata.ensembles.count - 1].bookies
            let client = self.client
            let excluded = Set(current).union(self.failed)
            let chosen: [String]
            do {
                chosen = try await client.eventLoop.submit {
                    let racks = Set(current.filter { !bookies.contains($0) }.compactMap { client.bookies.rack(of: $0) })
                    let chosen = try client.bookies.choose(bookies.count, excluding: excluded, racksInUse: racks)
                    client.bookies.released(chosen)  // The ledger closes at once: it adds no load.
                    return chosen
                }.get()
            } catch let error as LedgerError where error.code == .notEnoughBookies {
                return false
            }
            var ensemble = current
            for (index, replacement) in zip(current.indices.filter { bookies.contains(current[$0]) }, chosen) { ensemble[index] = replacement }
            var updated = self.metadata
            if updated.ensembles[updated.ensembles.count - 1].firstEntryID == first {
                updated.ensembles[updated.ensembles.count - 1].bookies = ensemble
            } else {
                updated.ensembles.append(.init(firstEntryID: first, bookies: ensemble))
            }
            self.version = try await self.recovery.store(updated, self.version)
            self.metadata = updated
            return true
        }
    }
}
