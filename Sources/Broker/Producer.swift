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
    private let closedFlag = Atomic<Bool>(false)
    /// What it published, for stats.
    let counters = TrafficCounters()
    let connectedSince = Date()

    init(topic: any PublishTarget, name: String, producerID: UInt64, requestID: UInt64, connection: ObjectIdentifier, exclusive: Bool, sink: any ProducerSink) {
        self.topic = topic
        self.name = name
        self.producerID = producerID
        self.requestID = requestID
        self.connection = connection
        self.exclusive = exclusive
        self.sink = sink
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
