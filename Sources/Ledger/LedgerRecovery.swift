import BookieWire
import Metadata
import NIOCore

/// Decides where an open ledger ends and closes it there, so that every reader agrees on
/// its last entry and its writer can add nothing more.
///
/// 1. Mark it IN_RECOVERY (compare-and-set).
/// 2. Fence it on the bookies of its last ensemble until no write quorum has `Qa`
///    bookies left unfenced: from then on the old writer cannot get any entry confirmed.
/// 3. Start from the highest LAC the fenced bookies report.
/// 4. Read forward with fencing reads. An entry exists when one replica returns it; it is
///    absent when `Qw − Qa + 1` replicas say they do not have it (then fewer than `Qa`
///    could, so it was never confirmed). Answers like UNKNOWN_LEDGER_STATE or a timeout
///    count for neither; when neither can be decided, recovery fails and the ledger stays
///    IN_RECOVERY for a later attempt.
/// 5. Write each entry found to its whole write quorum with recovery adds. A bookie that
///    is down, hung (it did not answer the fence) or fails an add is replaced through an
///    ensemble change, stored by compare-and-set before the close (see ``Rewriter``).
/// 6. Close at the last entry found (compare-and-set). A concurrent recoverer that closed
///    first wins, and its result is returned.
///
/// Every step completes as soon as the answers in decide it: a hung bookie costs no
/// request timeout.
struct LedgerRecovery {
    let client: LedgerClient
    let ledgerID: Int64
    /// Entries read ahead together, and then rewritten together.
    static let batchSize = 64

    func run() async throws -> LedgerMetadata {
        var (metadata, version) = try await self.client.readMetadata(self.ledgerID)
        while metadata.state == .open {
            var marked = metadata
            marked.state = .inRecovery
            do {
                version = try await self.store(marked, version)
                metadata = marked
            } catch let error as MetadataError where error.code == .badVersion {
                (metadata, version) = try await self.client.readMetadata(self.ledgerID)
            }
        }
        if metadata.state == .closed { return metadata }

        let segment = metadata.ensembles[metadata.ensembles.count - 1]
        let fence = try await self.fence(metadata, segment.bookies)
        var lac = max(segment.firstEntryID - 1, fence.lac)
        var length: UInt64 = 0
        if lac >= 0 {
            length = try await self.entry(lac, of: metadata).ledgerLength
        }
        // Entries are read from the fenced ensemble and written through the rewriter,
        // whose ensemble may change.
        var rewriter = Rewriter(recovery: self, metadata: metadata, version: version, failed: Set(segment.bookies).subtracting(fence.fenced))
        do {
            var ended = false
            while !ended {
                var batch: [(entryID: Int64, bytes: ByteBuffer)] = []
                reading: for result in await self.readForward(from: lac + 1, count: Self.batchSize, metadata) {
                    switch result {
                    case .found(let entry, let bytes):
                        lac += 1
                        length = entry.ledgerLength
                        batch.append((lac, bytes))
                    case .absent:
                        ended = true
                        break reading
                    case .failed(let error):
                        throw error
                    }
                }
                try await rewriter.write(batch)
            }
        } catch let error as MetadataError where error.code == .badVersion {
            return try await self.closedMeanwhile(error)
        }

        var closed = rewriter.metadata
        closed.state = .closed
        closed.lastEntryID = lac
        closed.length = length
        do {
            _ = try await self.store(closed, rewriter.version)
            return closed
        } catch let error as MetadataError where error.code == .badVersion {
            return try await self.closedMeanwhile(error)
        }
    }

    /// Stores `metadata` by compare-and-set on `version`, reading it back when the answer
    /// is lost; returns the new version.
    func store(_ metadata: LedgerMetadata, _ version: Int64) async throws -> Int64 {
        try await self.client.metadata.putReconciled(ClusterLayout.ledger(UInt64(self.ledgerID)), value: try metadata.encoded(), expecting: .version(version))
    }

    /// After a compare-and-set lost to another change: another recoverer's close is the
    /// result; anything else (a concurrent recovery still going) fails this attempt,
    /// leaving the ledger IN_RECOVERY.
    private func closedMeanwhile(_ error: MetadataError) async throws -> LedgerMetadata {
        let (current, _) = try await self.client.readMetadata(self.ledgerID)
        if current.state == .closed { return current }
        throw LedgerError(.recoveryFailed, "ledger \(self.ledgerID) changed during its recovery (another recovery?); try again: \(error)")
    }
}
