import BookieStorage
import Foundation
import Ledger
import Logging
import Metadata
import NIOPosix

/// Copies a bookie holds of ledgers that no longer name it (BookKeeper's over-replicated
/// ledger collection): a bookie that came back after its ledgers were re-replicated
/// elsewhere, or whose copies a finished decommission left, would keep them until the
/// ledgers are deleted.
extension GarbageCollector {
    /// Whether this bookie's copy of a ledger with `metadata` is surplus: the ledger is
    /// closed (no writer or recovery can still add this bookie) and no segment names it.
    static func isSurplus(_ metadata: LedgerMetadata, on bookie: String) -> Bool {
        metadata.state == .closed && !metadata.ensembles.contains { $0.bookies.contains(bookie) }
    }

    /// Deletes this bookie's surplus copies among `candidates` (held here, with metadata);
    /// returns how many ledgers were dropped.
    ///
    /// Each is dropped while holding the ledger's re-replication lock, the key a worker
    /// holds while it copies fragments to a replacement and stores the new ensemble: a
    /// worker could pick this bookie as the replacement and copy here before the ensemble
    /// names it. Under the lock the metadata is read again; only a copy still surplus then
    /// is dropped. A ledger whose lock a worker holds is left for the next pass.
    func dropSurplusCopies(of candidates: [UInt64], on pool: NIOThreadPool) async throws -> Int {
        var session: MetadataSession?
        do {
            let dropped = try await self.dropSurplusCopies(of: candidates, on: pool, session: &session)
            if let session { try? await self.metadata.closeSession(session) }
            return dropped
        } catch {
            if let session { try? await self.metadata.closeSession(session) }
            throw error
        }
    }

    /// The loop of ``dropSurplusCopies(of:on:)``: `session`, opened at the first surplus
    /// copy, holds the locks.
    private func dropSurplusCopies(of candidates: [UInt64], on pool: NIOThreadPool, session: inout MetadataSession?) async throws -> Int {
        let bookie = self.configuration.id
        var dropped = 0
        for id in candidates {
            guard let metadata = try await self.ledgerMetadata(id), Self.isSurplus(metadata, on: bookie) else { continue }
            let held: MetadataSession
            if let session {
                try await self.metadata.keepAlive(session)
                held = session
            } else {
                held = try await self.metadata.createSession(ttl: .seconds(30))
                session = held
            }
            let lock = ClusterLayout.replicationLock(id)
            let claim: Int64
            do {
                claim = try await self.metadata.put(lock, value: Array("gc:\(bookie)".utf8), expecting: .absent, session: held)
            } catch let error as MetadataError where error.code == .alreadyExists {
                continue  // A worker is copying it, perhaps to here.
            }
            do {
                if let again = try await self.ledgerMetadata(id), Self.isSurplus(again, on: bookie) {
                    let store = self.store
                    try await pool.runIfActive { try store.deleteLedgers([id]) }
                    dropped += 1
                }
            } catch {
                try? await self.metadata.delete(lock, expecting: .version(claim))
                throw error
            }
            try? await self.metadata.delete(lock, expecting: .version(claim))
        }
        return dropped
    }

    /// A ledger's metadata, or nil when it is gone.
    private func ledgerMetadata(_ id: UInt64) async throws -> LedgerMetadata? {
        guard let stored = try await self.metadata.get(ClusterLayout.ledger(id)) else { return nil }
        return try LedgerMetadata.decoded(stored.value, ledgerID: Int64(id))
    }
}
