import CoreMetrics
import Foundation
import Ledger
import Logging
import Metadata

/// Re-replicates marked ledgers, every `interval`: claims one with an ephemeral lock key
/// in its session (`/ledgers/underreplication/locks/<id>`; a worker that dies frees it
/// when its session ends), has ``LedgerClient/replicate(_:replacing:load:pacer:copied:)``
/// copy its fragments and store the new ensembles, then removes the mark and the lock.
/// A ledger whose copy fails keeps its mark and is tried again at a later pass, by this
/// worker or another; a copy cut short is simply done again.
struct ReplicationWorker: Sendable {
    let metadata: any MetadataStore
    let client: LedgerClient
    let session: ReplicationSession
    let configuration: AutorecoveryService.Configuration
    let pacer: BytePacer
    let metrics: AutorecoveryMetrics
    let logger: Logger

    func run() async {
        var load: [String: Int] = [:]
        while !Task.isCancelled {
            do {
                try await self.pass(&load)
            } catch {
                self.logger.warning("re-replication pass failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: self.configuration.workerInterval)
        }
    }

    /// Goes once over the marked ledgers (in random order, so workers spread out).
    private func pass(_ load: inout [String: Int]) async throws {
        for id in try await UnderReplication.markedLedgers(in: self.metadata).shuffled() {
            guard !Task.isCancelled, let session = self.session.current else { return }
            let lock = ClusterLayout.replicationLock(UInt64(id))
            let claim: Int64
            do {
                claim = try await self.metadata.put(lock, value: Array(self.configuration.id.utf8), expecting: .absent, session: session)
            } catch let error as MetadataError where error.code == .alreadyExists {
                continue  // Another worker has it.
            }
            do {
                try await self.replicate(id, load: &load)
            } catch {
                self.logger.warning("re-replication failed; the ledger stays marked", metadata: ["ledger": "\(id)", "error": "\(error)"])
            }
            // Only this claim: had the session ended meanwhile, the key may be another's.
            try? await self.metadata.delete(lock, expecting: .version(claim))
        }
    }

    private func replicate(_ id: Int64, load: inout [String: Int]) async throws {
        guard let (marker, version) = try await UnderReplication.marker(id, in: self.metadata) else { return }
        let started = ContinuousClock.now
        let bytesCopied = self.metrics.bytesCopied
        let outcome = try await self.client.replicate(
            id, replacing: Set(marker.bookies), load: &load, pacer: self.pacer, copied: { bytesCopied.increment(by: $0) }
        )
        try await UnderReplication.unmark(id, version: version, in: self.metadata)
        if outcome.kind == .replicated { self.metrics.ledgersReplicated.increment() }
        self.logger.info(
            "re-replicated ledger",
            metadata: [
                "ledger": "\(id)", "outcome": "\(outcome.kind.rawValue)", "replaced": "\(marker.bookies)", "entries": "\(outcome.entriesCopied)",
                "bytes": "\(outcome.bytesCopied)", "seconds": "\(ContinuousClock.now - started)",
            ]
        )
    }
}
