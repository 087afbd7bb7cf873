import BookieStorage
import Foundation
import Logging
import Metadata
import NIOCore
import NIOPosix
import Synchronization

extension BookieService {
    /// Takes a disk usage reading, opens the journal again if it failed for want of space
    /// and there is room now, and turns the bookie read-only or writable (registering the
    /// change) as the disks and the journal allow: read-only while any data directory is
    /// past the monitor's mark or the journal cannot write.
    static func checkWritability(
        store: BookieStore,
        monitor: inout DiskMonitor,
        registration: Registrar,
        pool: NIOThreadPool,
        configuration: Configuration,
        logger: Logger
    ) async {
        let usage = configuration.diskUsageOfFullest()
        _ = monitor.observe(usage: usage)
        if !monitor.readOnly, store.journalFailure?.code == .noSpace {
            do {
                if try await pool.runIfActive({ try store.reopenJournalIfOutOfSpace() }) {
                    logger.info("the journal has room again and writes a new file")
                }
            } catch {
                logger.warning("the journal still cannot write", metadata: ["error": "\(error)"])
            }
        }
        let failure = store.journalFailure
        let readOnly = monitor.readOnly || failure != nil
        guard readOnly != store.isReadOnly else { return }
        store.isReadOnly = readOnly
        let reason = failure.map { "the journal failed: \($0.message)" } ?? "the fullest data directory is \(Int(usage * 100))% used"
        logger.warning("bookie is now \(readOnly ? "read-only" : "writable")", metadata: ["why": "\(reason)"])
        do {
            try await registration.register(readOnly: readOnly)
        } catch {
            logger.error("could not update the registration", metadata: ["error": "\(error)"])
        }
    }

    /// Deletes the ledgers whose metadata is gone and compacts entry logs that are mostly
    /// garbage. A ledger counts as deleted only if its id was allocated (so ledgers
    /// written without metadata, as benchmarks do, are kept) and its metadata is absent
    /// after the bookie listed it (metadata exists before a ledger's first add).
    static func collectGarbage(
        store: BookieStore,
        metadata: any MetadataStore,
        pool: NIOThreadPool,
        configuration: Configuration,
        logger: Logger
    ) async throws {
        let held = try await pool.runIfActive { try store.ledgerIDs() }
        let allocated = UInt64(max(0, try await metadata.currentID(ClusterLayout.ledgerIDCounter)))
        let existing = Set(try await metadata.children(of: ClusterLayout.ledgers).compactMap { UInt64($0) })
        let deleted = held.filter { $0 <= allocated && !existing.contains($0) }
        if !deleted.isEmpty {
            try await pool.runIfActive { try store.deleteLedgers(deleted) }
            logger.info("deleted ledgers whose metadata is gone", metadata: ["count": "\(deleted.count)"])
        }
        let limiter = RateLimiter(bytesPerSecond: configuration.compactionRate)
        let result = try await pool.runIfActive {
            try store.compact(belowLiveRatio: configuration.compactionThreshold, pace: { limiter.pace($0) })
        }
        if result.logsRemoved > 0 {
            logger.info(
                "compacted entry logs",
                metadata: ["removed": "\(result.logsRemoved)", "moved": "\(result.bytesMoved)", "reclaimed": "\(result.bytesReclaimed)"]
            )
        }
    }
}

/// Spaces out work to a byte rate: ``pace(_:)`` sleeps the calling thread as long as the
/// bytes so far are ahead of the rate.
final class RateLimiter: Sendable {
    private let bytesPerSecond: Double
    private let start = ContinuousClock.now
    private let total = Mutex(0)

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = Double(max(1, bytesPerSecond))
    }

    func pace(_ bytes: Int) {
        let done = self.total.withLock { total in
            total += bytes
            return total
        }
        let due = Duration.seconds(Double(done) / self.bytesPerSecond)
        let elapsed = ContinuousClock.now - self.start
        if elapsed < due {
            let wait = due - elapsed
            Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        }
    }
}
