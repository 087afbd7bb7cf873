import Foundation
import Synchronization

/// A producer as its topic knows it: its name, the connection and id it came with, and
/// where to tell it that the broker closed it or let it in.
final class Producer: Sendable {
    let topic: any PublishTarget
    let name: String
    /// The producer id on its connection.
    let producerID: UInt64
    /// The id of the PRODUCER request that created it: a queued producer's second
    /// PRODUCER_SUCCESS answers it again.
    let requestID: UInt64
    let connection: ObjectIdentifier
    /// Whether it holds the topic alone (every access mode but Shared).
    let exclusive: Bool
    let sink: any ProducerSink
    /// The topic epoch it held the topic in before, when it reconnects as an exclusive
    /// producer (PRODUCER's topic_epoch).
    let requestedEpoch: UInt64?
    /// The topic epoch it holds the topic in (-1: none yet, or a Shared producer).
    private let grantedEpoch = Atomic<Int64>(-1)
    private let closedFlag = Atomic<Bool>(false)
    /// What it published, for stats.
    let counters = TrafficCounters()
    let connectedSince = Date()

    init(
        topic: any PublishTarget, name: String, producerID: UInt64, requestID: UInt64, connection: ObjectIdentifier, exclusive: Bool,
        requestedEpoch: UInt64? = nil, sink: any ProducerSink
    ) {
        self.requestedEpoch = requestedEpoch
        self.topic = topic
        self.name = name
        self.producerID = producerID
        self.requestID = requestID
        self.connection = connection
        self.exclusive = exclusive
        self.sink = sink
    }

    /// The topic epoch it holds the topic in, for PRODUCER_SUCCESS; nil for none.
    var topicEpoch: UInt64? {
        let epoch = self.grantedEpoch.load(ordering: .acquiring)
        return epoch >= 0 ? UInt64(epoch) : nil
    }

    /// Records the topic epoch it now holds the topic in.
    func granted(epoch: UInt64) {
        self.grantedEpoch.store(Int64(clamping: epoch), ordering: .releasing)
    }

    /// A name for a producer that came without one: unique in the cluster.
    static func generatedName(broker: String, number: Int) -> String {
        "\(broker)-\(number)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Set once the topic dropped the producer; its sends are refused from then on.
    var isClosed: Bool { self.closedFlag.load(ordering: .acquiring) }

    /// Marks the producer closed; true the first time.
    func markClosed() -> Bool {
        !self.closedFlag.exchange(true, ordering: .acquiringAndReleasing)
    }
}
