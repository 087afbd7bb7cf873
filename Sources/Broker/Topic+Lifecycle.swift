import Logging
import ManagedLedger
import PulsarWire
import Synchronization

extension Topic {
    /// Why a topic closes.
    enum CloseReason: Sendable, CustomStringConvertible {
        /// A write of its managed ledger failed (or another broker took the ledger over).
        case failed(any Error)
        /// An operator, or the ownership of its bundle, moved it away.
        case unloaded
        /// No producer or consumer for longer than the idle timeout.
        case idle
        /// The broker is stopping.
        case shutdown
        /// The broker lost the ownership of the topic's bundle (its metadata session
        /// ended, or the bundle's key is gone): another broker may own it already.
        case ownershipLost

        var description: String {
            switch self {
            case .failed(let error): "a storage failure: \(error)"
            case .unloaded: "unload"
            case .idle: "idleness"
            case .shutdown: "broker shutdown"
            case .ownershipLost: "lost ownership"
            }
        }
    }

    /// Why a topic this broker may not serve now closes: its ownership lapsed, or its
    /// bundle is being unloaded (its ledger is then closed cleanly).
    nonisolated var notServedReason: CloseReason {
        self.ownershipLapsed() ? .ownershipLost : .unloaded
    }

    /// Closes the topic: every producer gets CLOSE_PRODUCER and every consumer
    /// CLOSE_CONSUMER through their sinks, so that their clients look the topic up again
    /// and reconnect to it loaded anew (after a failure that recovers its last ledger),
    /// and producers resend what was not receipted, in order. Then the managed ledger is
    /// closed, persisting the cursors (given up instead, writing nothing, when the
    /// ownership was lost), and the topic is forgotten by its manager. Closing again does
    /// nothing.
    func close(_ reason: CloseReason) {
        guard self.markClosed() else { return }
        switch reason {
        case .failed, .ownershipLost:
            self.logger.warning("closing topic", metadata: ["topic": "\(self.name)", "reason": "\(reason)"])
        default:
            self.logger.info("closing topic", metadata: ["topic": "\(self.name)", "reason": "\(reason)"])
        }
        let producers = Array(self.producers.values) + self.waiting
        self.producers.removeAll()
        self.waiting.removeAll()
        for producer in producers where producer.markClosed() { producer.sink.producerClosed(producer) }
        for subscription in self.subscriptions.values {
            for consumer in subscription.removeAll() { consumer.sink.consumerClosed(consumer) }
        }
        self.subscriptions.removeAll()
        // The deduplication numbers go with the cursors the ledger persists as it closes.
        self.snapshotDeduplication()
        self.failDuplicatesWaiting()
        let (ledger, logger, name) = (self.ledger, self.logger, self.name)
        let limit = self.ledgerCloseLimit
        self.closing = Task {
            // Another owner may have the topic already: storage is left to it.
            if case .ownershipLost = reason {
                await ledger.abandon()
            } else {
                await Self.closeLedger(ledger, within: limit, logger: logger, topic: name)
            }
            self.onClosed(self)
        }
    }

    /// Closes `ledger` cleanly (appends confirmed, cursors persisted, the last ledger
    /// closed), or gives it up (``ManagedLedger/abandon()``) when that takes longer than
    /// `limit`: appends held by bookies for which no replacement is to be had kept a close
    /// waiting for ever, and with it an unload (every lookup of the bundle answered
    /// "being unloaded") or the broker's shutdown. The next owner fences and recovers
    /// the ledger; the clean close goes on meanwhile, and its last write can only lose
    /// to the next owner's compare-and-set.
    static func closeLedger(_ ledger: ManagedLedger, within limit: Duration, logger: Logger, topic: TopicName) async {
        let settled = Mutex(false)
        let closedInTime: Bool = await withCheckedContinuation { continuation in
            let settle: @Sendable (Bool) -> Void = { closed in
                if settled.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: closed) }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                settle(false)
            }
            Task {
                do {
                    try await ledger.close()
                } catch {
                    logger.warning("closing the managed ledger of a topic failed", metadata: ["topic": "\(topic)", "error": "\(error)"])
                }
                timer.cancel()
                settle(true)
            }
        }
        guard !closedInTime else { return }
        logger.warning(
            "the managed ledger of a topic did not close in time: given up, for its next owner to recover",
            metadata: ["topic": "\(topic)", "limit": "\(limit)"]
        )
        await ledger.abandon()
    }

    /// Closes the topic (``close(_:)``) and returns once its managed ledger is closed.
    func closeAndWait(_ reason: CloseReason) async {
        self.close(reason)
        await self.closing?.value
    }

    /// Returns once a closed topic's managed ledger is closed (at once for an open topic).
    func waitUntilClosed() async {
        await self.closing?.value
    }

    /// Whether anyone uses the topic: a producer (or one waiting), or a consumer.
    var isInUse: Bool {
        !self.producers.isEmpty || !self.waiting.isEmpty || self.subscriptions.values.contains { !$0.isEmpty }
    }

    /// Starts the idle clock when the last producer or consumer has gone.
    func noteIfIdle(now: ContinuousClock.Instant = .now) {
        if !self.isInUse { self.idleSince = now }
    }

    /// Whether the topic has had no producer or consumer for at least `timeout` at `now`.
    func isIdle(at now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        !self.isClosed && !self.isInUse && now - self.idleSince >= timeout
    }
}
