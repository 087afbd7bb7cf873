import NIOCore
import Logging

extension ManagedLedger {
    /// Stops using the log at once and writes nothing more, leaving storage as it is: its
    /// owner lost the topic, whose next owner (this broker again, perhaps) fences and
    /// recovers the last ledger and reads the cursors as they were last persisted.
    ///
    /// Unlike ``close()``, it waits for no append in flight and closes no ledger: a close
    /// waited for appends held up by a slow or stuck bookie, for many seconds, while the
    /// topic could be served nowhere else on this broker. Queued and later appends fail,
    /// tailing readers are woken; appends already sent complete on their own, and no one
    /// is told (a topic that lost its ownership answers no client).
    public func abandon() {
        self.state.timer?.cancel()
        self.state.timer = nil
        if case .closed = self.state.phase { return }
        self.state.readers = [:]
        self.state.writer = nil
        self.stopTakingWork(ManagedLedgerError(.closed, "managed ledger \(self.name) was given up: its topic has another owner"))
        self.logger.info("gave up managed ledger", metadata: ["name": "\(self.name)"])
    }

    /// Marks the log closed and drops its cursors: tailing readers are woken and queued
    /// appends fail with `error` (what ``close()`` and ``abandon()`` share).
    func stopTakingWork(_ error: ManagedLedgerError) {
        self.state.phase = .closed
        let queue = self.state.queue
        let waiters = self.state.waiters.values
        self.state.queue = []
        self.state.waiters = [:]
        self.state.cursors = [:]
        for waiter in waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: false)
        }
        for (_, completion) in queue { completion(.failure(error)) }
    }
}
