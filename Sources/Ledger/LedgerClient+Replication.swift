import BookieWire
public import Metadata
import NIOCore

/// What one re-replication of a ledger did.
public struct ReplicationOutcome: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        /// Every fragment was copied and the ensembles (if they changed) stored.
        case replicated
        /// The ledger is open or in recovery: its writer's ensemble changes (or its
        /// recovery) handle its bookies; it is looked at again once closed.
        case notClosed
        /// The ledger was deleted.
        case noSuchLedger
        /// None of the bookies to replace is in the ledger's ensembles (any more).
        case nothingToReplace
    }

    public var kind: Kind
    public var entriesCopied: Int
    public var bytesCopied: Int
    /// The ledger's metadata afterwards, when it exists.
    public var metadata: LedgerMetadata?
}

extension LedgerClient {
    /// Replaces the copies `replacing` hold of closed ledger `ledgerID` (see
    /// ``ReplicationPlan``): each missing entry is read from a surviving replica of its
    /// write set, its digest checked, and written to the new bookie as a recovery add (which
    /// a fenced ledger accepts); once every fragment is copied, the new ensembles are
    /// stored by compare-and-set on the version the plan was made from. Readers keep
    /// working throughout: they see the new ensembles only once the copies are complete.
    ///
    /// Idempotent: a run cut short leaves the metadata as it was, and the next run copies
    /// again. When the metadata changed under the copy, the run starts over (up to three
    /// times). `load` carries the chooser's placements from one ledger to the next;
    /// `pacer` limits the copy rate; `copied` is told the bytes of each entry written.
    public func replicate(
        _ ledgerID: Int64,
        replacing: Set<String>,
        load: inout [String: Int],
        pacer: BytePacer? = nil,
        copied: (@Sendable (Int) -> Void)? = nil
    ) async throws -> ReplicationOutcome {
        var lastConflict: (any Error)?
        for _ in 0..<3 {
            try await self.refreshBookies()
            let metadata: LedgerMetadata
            let version: Int64
            do {
                (metadata, version) = try await self.readMetadata(ledgerID)
            } catch let error as LedgerError where error.code == .noSuchLedger {
                return ReplicationOutcome(kind: .noSuchLedger, entriesCopied: 0, bytesCopied: 0, metadata: nil)
            }
            guard metadata.state == .closed else {
                return ReplicationOutcome(kind: .notClosed, entriesCopied: 0, bytesCopied: 0, metadata: metadata)
            }
            let toReplace = replacing.intersection(metadata.bookies)
            guard !toReplace.isEmpty else {
                return ReplicationOutcome(kind: .nothingToReplace, entriesCopied: 0, bytesCopied: 0, metadata: metadata)
            }
            let decommissioned = Set(try await self.metadata.children(of: ClusterLayout.decommissionedBookies))
            let (live, candidates) = try await self.eventLoop.submit { (self.bookies.registeredIDs, self.bookies.candidates()) }.get()
            let plan = try ReplicationPlan.make(
                for: metadata, replacing: toReplace, live: live, decommissioned: decommissioned, candidates: candidates, load: &load
            )
            var entries = 0
            var bytes = 0
            for copy in plan.copies {
                let (count, size) = try await self.copy(copy, of: ledgerID, metadata: metadata, replacing: toReplace, pacer: pacer, copied: copied)
                entries += count
                bytes += size
            }
            guard plan.changesEnsembles else {
                return ReplicationOutcome(kind: .replicated, entriesCopied: entries, bytesCopied: bytes, metadata: metadata)
            }
            do {
                try await self.metadata.putReconciled(
                    ClusterLayout.ledger(UInt64(ledgerID)), value: try plan.updated.encoded(), expecting: .version(version)
                )
                return ReplicationOutcome(kind: .replicated, entriesCopied: entries, bytesCopied: bytes, metadata: plan.updated)
            } catch let error as MetadataError where error.code == .badVersion || error.code == .notFound {
                lastConflict = error  // Changed meanwhile (another worker?): plan again from what is stored.
            }
        }
        throw LedgerError(.timeout, "ledger \(ledgerID) kept changing during its re-replication: \(lastConflict.map { "\($0)" } ?? "")")
    }

    /// Copies one fragment's entries to its target, up to 16 at a time. Returns the
    /// entries and bytes written.
    private func copy(
        _ copy: ReplicationPlan.Copy,
        of ledgerID: Int64,
        metadata: LedgerMetadata,
        replacing: Set<String>,
        pacer: BytePacer?,
        copied: (@Sendable (Int) -> Void)?
    ) async throws -> (Int, Int) {
        let key = metadata.key
        return try await withThrowingTaskGroup(of: Int?.self) { group in
            var entries = 0
            var bytes = 0
            var next = copy.fragment.entries.startIndex
            func collect(_ written: Int?) {
                guard let written else { return }
                entries += 1
                bytes += written
            }
            while next < copy.fragment.entries.endIndex {
                if next - copy.fragment.entries.startIndex >= 16, let done = try await group.next() { collect(done) }
                let entryID = copy.fragment.entries[next]
                next += 1
                // Surviving replicas first; bookies being replaced last (a decommissioned
                // bookie still serves), the fragment's own bookie included unless it is the
                // target.
                let others = metadata.writeSet(for: entryID).filter { $0 != copy.target }
                let sources = others.filter { !replacing.contains($0) } + others.filter { replacing.contains($0) }
                group.addTask {
                    let written = try await self.copyEntry(
                        entryID, of: ledgerID, from: sources, to: copy.target, checkFirst: copy.inPlace, key: key
                    )
                    if let written {
                        try await pacer?.pace(written)
                        copied?(written)
                    }
                    return written
                }
            }
            while let done = try await group.next() { collect(done) }
            return (entries, bytes)
        }
    }

    /// Writes entry `entryID` to `target`, read from the first of `sources` that has a
    /// valid copy. With `checkFirst`, nothing is written when the target already has a
    /// valid copy (nil is returned); else the entry's encoded size.
    private func copyEntry(
        _ entryID: Int64, of ledgerID: Int64, from sources: [String], to target: String, checkFirst: Bool, key: [UInt8]
    ) async throws -> Int? {
        if checkFirst, case .success = await self.readEncoded(entryID, of: ledgerID, from: target) { return nil }
        var failures: [String] = []
        for source in sources {
            switch await self.readEncoded(entryID, of: ledgerID, from: source) {
            case .success(let bytes):
                let answer = await self.request(target, .add(entry: bytes, ledgerKey: key, recovery: true))
                switch answer {
                case .success(let response) where response.status == .ok:
                    return bytes.readableBytes
                case .success(let response):
                    throw response.error(from: target)
                case .failure(let error):
                    throw error
                }
            case .failure(let error):
                failures.append(error.message)
            }
        }
        throw LedgerError(
            .noSuchEntry, "no surviving replica of entry \(entryID) of ledger \(ledgerID) could be read: " + failures.joined(separator: "; ")
        )
    }

    /// One entry's encoded bytes from one bookie, its digest and ids checked.
    func readEncoded(_ entryID: Int64, of ledgerID: Int64, from bookie: String) async -> Result<ByteBuffer, LedgerError> {
        let read = ReadRequest(ledgerID: UInt64(ledgerID), firstEntryID: UInt64(entryID))
        switch await self.request(bookie, .read(read)) {
        case .success(let response):
            guard case .read(_, _, _, let entries) = response.body, let bytes = entries.first else {
                return .failure(response.error(from: bookie))
            }
            return LedgerReader.verify(bytes, ledgerID: ledgerID, entryID: entryID, bookie: bookie).map { _ in bytes }
        case .failure(let error):
            return .failure(error)
        }
    }
}
