import CoreMetrics
import Foundation
import Ledger
import Logging
import Metadata

/// Finds lost bookies and marks their ledgers under-replicated. Every bookie runs one; the
/// one holding `/ledgers/underreplication/auditor` (ephemeral, won by compare-and-set)
/// audits, every `interval`: a bookie the cluster knows (by its cookie or a ledger's
/// ensembles) missing from `/bookies/available` for longer than the grace period, or
/// decommissioned, is lost (``BookieAbsence``), and each closed ledger with a copy on a
/// lost bookie gets a mark naming it (``LedgerAudit``). Ledgers are read only when the
/// lost bookies change, and every ``scanEvery`` audits. A new
/// leader starts its absence clocks afresh.
struct Auditor: Sendable {
    let metadata: any MetadataStore
    let session: ReplicationSession
    let configuration: AutorecoveryService.Configuration
    let metrics: AutorecoveryMetrics
    let logger: Logger

    /// What a leading auditor remembers from one audit to the next.
    struct Memory {
        var absence: BookieAbsence<ContinuousClock.Instant>
        /// The bookies the ledgers named at the last scan.
        var referenced: Set<String> = []
        /// The lost bookies at the last scan.
        var lost: Set<String> = []
        var auditsSinceScan = Int.max

        init(grace: Duration) {
            self.absence = BookieAbsence(grace: grace)
        }
    }

    /// Ledgers are scanned at an audit that finds other bookies lost than the last scan
    /// did, and at least every this many audits (for ledgers closed since, and to learn
    /// the bookies they name).
    static let scanEvery = 10

    func run() async {
        var memory = Memory(grace: self.configuration.lostBookieGrace)
        var leading = false
        while !Task.isCancelled {
            do {
                let leader = try await self.lead()
                if leader != leading {
                    self.logger.info(leader ? "auditing as leader" : "no longer the auditor", metadata: ["id": "\(self.configuration.id)"])
                    memory = Memory(grace: self.configuration.lostBookieGrace)
                    leading = leader
                }
                if leader { try await self.audit(&memory) }
            } catch {
                self.logger.warning("audit failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: self.configuration.auditInterval)
        }
    }

    /// Whether this auditor leads, taking the key when it is free.
    private func lead() async throws -> Bool {
        guard let session = self.session.current else { return false }
        do {
            try await self.metadata.put(
                ClusterLayout.auditor, value: Array(self.configuration.id.utf8), expecting: .absent, session: session
            )
            return true
        } catch let error as MetadataError where error.code == .alreadyExists {
            return try await self.metadata.get(ClusterLayout.auditor)?.session == session.id
        }
    }

    /// One audit: decides the lost bookies and, when they changed (or a scan is due),
    /// reads every ledger's metadata and marks the closed ones with a copy on a lost bookie.
    func audit(_ memory: inout Memory) async throws {
        let registered = Set(try await self.metadata.children(of: ClusterLayout.availableBookies))
        let decommissioned = try await UnderReplication.decommissioned(in: self.metadata)
        let cookies = Set(try await self.metadata.children(of: ClusterLayout.cookies))
        let lost = memory.absence.observe(
            now: .now, known: cookies.union(memory.referenced), registered: registered, decommissioned: decommissioned
        )
        memory.auditsSinceScan = memory.auditsSinceScan == .max ? .max : memory.auditsSinceScan + 1
        guard lost != memory.lost || memory.auditsSinceScan >= Self.scanEvery else {
            self.metrics.underReplicatedLedgers.record(try await UnderReplication.markedLedgers(in: self.metadata).count)
            return
        }
        let ledgers = try await UnderReplication.allLedgers(in: self.metadata).compactMap { id, metadata in
            (try? metadata.get()).map { (id: id, metadata: $0) }
        }
        memory.referenced = ledgers.reduce(into: Set<String>()) { $0.formUnion($1.metadata.bookies) }
        memory.auditsSinceScan = 0
        memory.lost = lost
        var marked = 0
        for (id, found) in LedgerAudit.ledgersToMark(ledgers, lost: lost) {
            // Read again just before marking: a worker may have moved the copies since.
            guard let stored = try await self.metadata.get(ClusterLayout.ledger(UInt64(id))),
                let current = try? LedgerMetadata.decoded(stored.value, ledgerID: id)
            else { continue }
            let bookies = found.intersection(current.bookies)
            if bookies.isEmpty { continue }
            let reason = bookies.isSubset(of: decommissioned) ? "decommissioned" : "lost"
            if try await UnderReplication.mark(id, bookies: bookies, reason: reason, in: self.metadata) { marked += 1 }
        }
        if marked > 0 {
            self.logger.info("marked ledgers under-replicated", metadata: ["count": "\(marked)", "lost": "\(lost.sorted())"])
        }
        self.metrics.underReplicatedLedgers.record(try await UnderReplication.markedLedgers(in: self.metadata).count)
    }
}
