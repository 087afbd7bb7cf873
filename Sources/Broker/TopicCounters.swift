import Synchronization

/// Running totals of what a topic took in and sent out, read by the load reports (rates
/// are differences between two readings). Publishing adds from the connections' loops,
/// dispatch from the topic's loop, so the totals are atomics.
final class TopicCounters: Sendable {
    private let messagesInTotal = Atomic<Int>(0)
    private let bytesInTotal = Atomic<Int>(0)
    private let entriesOutTotal = Atomic<Int>(0)
    private let bytesOutTotal = Atomic<Int>(0)

    /// A reading of the totals.
    struct Reading: Hashable, Sendable {
        var messagesIn = 0
        var bytesIn = 0
        /// Entries (batches) delivered to consumers, redeliveries included.
        var entriesOut = 0
        var bytesOut = 0
    }

    func recordIn(messages: Int, bytes: Int) {
        self.messagesInTotal.add(messages, ordering: .relaxed)
        self.bytesInTotal.add(bytes, ordering: .relaxed)
    }

    func recordOut(bytes: Int) {
        self.entriesOutTotal.add(1, ordering: .relaxed)
        self.bytesOutTotal.add(bytes, ordering: .relaxed)
    }

    var reading: Reading {
        Reading(
            messagesIn: self.messagesInTotal.load(ordering: .relaxed), bytesIn: self.bytesInTotal.load(ordering: .relaxed),
            entriesOut: self.entriesOutTotal.load(ordering: .relaxed), bytesOut: self.bytesOutTotal.load(ordering: .relaxed)
        )
    }
}
