import Synchronization

/// Running totals of what went in and out of a topic, a producer, a subscription or a
/// consumer, and their rates. Publishing adds from the connections' loops, dispatch from
/// the topic's loop, so the totals are atomics.
///
/// Rates are measured over windows of at least ``rateWindow``: a reading within a window
/// of the last one returns the rates of the last complete window; a later one closes the
/// window (a reader that comes rarely gets the average since its last reading).
final class TrafficCounters: Sendable {
    private let messagesInTotal = Atomic<Int>(0)
    private let bytesInTotal = Atomic<Int>(0)
    private let entriesOutTotal = Atomic<Int>(0)
    private let messagesOutTotal = Atomic<Int>(0)
    private let bytesOutTotal = Atomic<Int>(0)
    private let window = Mutex(Window())

    static let rateWindow = Duration.seconds(1)

    /// A reading of the totals.
    struct Reading: Hashable, Sendable {
        var messagesIn = 0
        var bytesIn = 0
        /// Entries (batches) delivered to consumers, redeliveries included.
        var entriesOut = 0
        /// Messages delivered (a batch counts its messages).
        var messagesOut = 0
        var bytesOut = 0
    }

    /// Per second, over the last window.
    struct Rates: Hashable, Sendable {
        var messagesIn = 0.0
        var bytesIn = 0.0
        var messagesOut = 0.0
        var bytesOut = 0.0
    }

    private struct Window {
        var start = ContinuousClock.now
        var reading = Reading()
        var rates = Rates()
    }

    func recordIn(messages: Int, bytes: Int) {
        self.messagesInTotal.add(messages, ordering: .relaxed)
        self.bytesInTotal.add(bytes, ordering: .relaxed)
    }

    func recordOut(messages: Int = 1, bytes: Int) {
        self.entriesOutTotal.add(1, ordering: .relaxed)
        self.messagesOutTotal.add(messages, ordering: .relaxed)
        self.bytesOutTotal.add(bytes, ordering: .relaxed)
    }

    var reading: Reading {
        Reading(
            messagesIn: self.messagesInTotal.load(ordering: .relaxed), bytesIn: self.bytesInTotal.load(ordering: .relaxed),
            entriesOut: self.entriesOutTotal.load(ordering: .relaxed), messagesOut: self.messagesOutTotal.load(ordering: .relaxed),
            bytesOut: self.bytesOutTotal.load(ordering: .relaxed)
        )
    }

    /// The rates of the last complete window at `now`.
    func rates(at now: ContinuousClock.Instant = .now) -> Rates {
        let reading = self.reading
        return self.window.withLock { window in
            let elapsed = now - window.start
            guard elapsed >= Self.rateWindow else { return window.rates }
            let seconds = elapsed / .seconds(1)
            window.rates = Rates(
                messagesIn: Double(reading.messagesIn - window.reading.messagesIn) / seconds,
                bytesIn: Double(reading.bytesIn - window.reading.bytesIn) / seconds,
                messagesOut: Double(reading.messagesOut - window.reading.messagesOut) / seconds,
                bytesOut: Double(reading.bytesOut - window.reading.bytesOut) / seconds
            )
            window.start = now
            window.reading = reading
            return window.rates
        }
    }
}
