import BookieStorage
import Logging
import NIOPosix
import ServiceLifecycle

/// Every `interval`, takes a disk usage reading, opens the journal again if it failed for
/// want of space and there is room now, and turns the bookie read-only or writable
/// (registering the change) as the disks and the journal allow: read-only while any data
/// directory is past the monitor's mark or the journal cannot write. Readings and the
/// journal's reopening run on a thread of its own.
final class DiskWatcher: Service, Sendable {
    private let store: BookieStore
    private let registrar: Registrar
    private let configuration: BookieService.Configuration
    private let monitor: DiskMonitor
    private let logger: Logger

    /// `monitor` holds the reading taken at start.
    init(store: BookieStore, registrar: Registrar, configuration: BookieService.Configuration, monitor: DiskMonitor, logger: Logger) {
        self.store = store
        self.registrar = registrar
        self.configuration = configuration
        self.monitor = monitor
        self.logger = logger
    }

    func run() async throws {
        let state = MonitorState(self.monitor)
        await PeriodicWork.run(every: self.configuration.flushInterval) { pool in
            var monitor = state.monitor
            await self.check(&monitor, on: pool)
            state.monitor = monitor
        }
    }

    private func check(_ monitor: inout DiskMonitor, on pool: NIOThreadPool) async {
        let store = self.store
        let configuration = self.configuration
        guard let usage = try? await pool.runIfActive({ configuration.diskUsageOfFullest() }) else { return }
        _ = monitor.observe(usage: usage)
        store.isFull = monitor.full
        if !monitor.readOnly, store.journalFailure?.code == .noSpace {
            do {
                if try await pool.runIfActive({ try store.reopenJournalIfOutOfSpace() }) {
                    self.logger.info("the journal has room again and writes a new file")
                }
            } catch {
                self.logger.warning("the journal still cannot write", metadata: ["error": "\(error)"])
            }
        }
        let failure = store.journalFailure
        let readOnly = monitor.readOnly || failure != nil
        guard readOnly != store.isReadOnly else { return }
        store.isReadOnly = readOnly
        let reason = failure.map { "the journal failed: \($0.message)" } ?? "the fullest data directory is \(Int(usage * 100))% used"
        self.logger.warning("bookie is now \(readOnly ? "read-only" : "writable")", metadata: ["why": "\(reason)"])
        do {
            try await self.registrar.register(readOnly: readOnly)
        } catch {
            self.logger.error("could not update the registration", metadata: ["error": "\(error)"])
        }
    }
}

/// The disk watcher's latest reading, carried from one check to the next.
private final class MonitorState: @unchecked Sendable {
    /// Touched by one check at a time: the checks of a watcher run one after another.
    var monitor: DiskMonitor

    init(_ monitor: DiskMonitor) {
        self.monitor = monitor
    }
}
