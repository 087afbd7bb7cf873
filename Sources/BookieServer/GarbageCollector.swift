import BookieStorage
import Logging
import Metadata
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Every `interval`, deletes the ledgers whose metadata is gone and compacts entry logs
/// that are mostly garbage, on a thread of its own at a limited byte rate; every
/// `overReplicationCheckInterval`, also drops copies of ledgers that no longer name this
/// bookie (``dropSurplusCopies(of:on:)``).
final class GarbageCollector: Service, Sendable {
    let store: BookieStore
    let metadata: any MetadataStore
    let configuration: BookieService.Configuration
    private let logger: Logger
    /// When surplus copies were last looked for (nil: not yet; the first pass does).
    private let lastSurplusCheck = Mutex<ContinuousClock.Instant?>(nil)

    init(store: BookieStore, metadata: any MetadataStore, configuration: BookieService.Configuration, logger: Logger) {
        self.store = store
        self.metadata = metadata
        self.configuration = configuration
        self.logger = logger
    }

    /// Collects until graceful shutdown or cancellation; a collection under way finishes
    /// its current step first.
    func run() async throws {
        await PeriodicWork.run(every: self.configuration.garbageCollectionInterval) { pool in
            do {
                try await self.collect(on: pool)
            } catch {
                self.logger.error("garbage collection failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Deletes the ledgers whose metadata is gone and compacts entry logs that are mostly
    /// garbage. A ledger counts as deleted only if its id was allocated (so ledgers
    /// written without metadata, as benchmarks do, are kept) and its metadata is absent
    /// after the bookie listed it (metadata exists before a ledger's first add).
    private func collect(on pool: NIOThreadPool) async throws {
        let store = self.store
        let configuration = self.configuration
        let held = try await pool.runIfActive { try store.ledgerIDs() }
        let allocated = UInt64(max(0, try await self.metadata.currentID(ClusterLayout.ledgerIDCounter)))
        let existing = Set(try await self.metadata.children(of: ClusterLayout.ledgers).compactMap { UInt64($0) })
        let deleted = held.filter { $0 <= allocated && !existing.contains($0) }
        if !deleted.isEmpty {
            try await pool.runIfActive { try store.deleteLedgers(deleted) }
            self.logger.info("deleted ledgers whose metadata is gone", metadata: ["count": "\(deleted.count)"])
        }
        if self.surplusCheckIsDue() {
            let dropped = try await self.dropSurplusCopies(of: held.filter(existing.contains), on: pool)
            if dropped > 0 { self.logger.info("dropped copies of ledgers that no longer name this bookie", metadata: ["count": "\(dropped)"]) }
        }
        let limiter = RateLimiter(bytesPerSecond: configuration.compactionRate)
        let result = try await pool.runIfActive {
            try store.compact(belowLiveRatio: configuration.compactionThreshold, pace: { limiter.pace($0) })
        }
        if result.logsRemoved > 0 {
            self.logger.info(
                "compacted entry logs",
                metadata: ["removed": "\(result.logsRemoved)", "moved": "\(result.bytesMoved)", "reclaimed": "\(result.bytesReclaimed)"]
            )
        }
    }

    /// Whether surplus copies are to be looked for in this pass; notes that they are.
    private func surplusCheckIsDue() -> Bool {
        guard let interval = self.configuration.overReplicationCheckInterval else { return false }
        let now = ContinuousClock.now
        return self.lastSurplusCheck.withLock { last in
            if let last, now - last < interval { return false }
            last = now
            return true
        }
    }
}
