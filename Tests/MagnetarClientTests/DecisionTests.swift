@testable import MagnetarClient
import Testing

@Suite("Client decisions as values")
struct DecisionTests {
    @Test func backoffDoublesUpToTheMaximumAndStartsOverAfterReset() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(500), jitter: 0)
        let delays = (0..<5).map { _ in backoff.next(random: 0.5) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500)])
        backoff.reset()
        #expect(backoff.next(random: 0) == .milliseconds(100))
    }

    @Test func backoffJitterOnlyShortensADelay() {
        var backoff = Backoff(initial: .seconds(1), maximum: .seconds(10), jitter: 0.5)
        #expect(backoff.next(random: 1) == .milliseconds(500))
        #expect(backoff.next(random: 0) == .seconds(2))
    }

    @Test func flowGrantsTheQueueFirstThenHalfQueueAtATime() {
        var permits = FlowPermits(queueSize: 10)
        #expect(permits.initial() == 10)
        #expect((0..<4).compactMap { _ in permits.taken() }.isEmpty)
        #expect(permits.taken() == 5)
        #expect(permits.taken(7) == 7)
        _ = permits.taken(2)
        #expect(permits.initial() == 10)
        #expect(permits.taken(4) == nil)
    }

    @Test func keysRouteAsJavasStringHash() {
        // "key-1".hashCode() in Java is 101943363.
        #expect(MessageRouter.javaStringHash("key-1") == 101_943_363)
        #expect(MessageRouter.javaStringHash("") == 0)
        var router = MessageRouter(partitions: 4)
        let first = router.partition(forKey: "user-7", elapsed: .zero)
        for _ in 0..<10 { #expect(router.partition(forKey: "user-7", elapsed: .seconds(3)) == first) }
    }

    @Test func roundRobinRotatesPerMessageWithoutBatching() {
        var router = MessageRouter(partitions: 3)
        #expect((0..<6).map { _ in router.partition(forKey: nil, elapsed: .zero) } == [0, 1, 2, 0, 1, 2])
    }

    @Test func roundRobinWithBatchingStaysOnAPartitionPerInterval() {
        var router = MessageRouter(partitions: 3, switchInterval: .milliseconds(10))
        #expect(router.partition(forKey: nil, elapsed: .milliseconds(1)) == router.partition(forKey: nil, elapsed: .milliseconds(9)))
        #expect(router.partition(forKey: nil, elapsed: .milliseconds(11)) == 1)
        #expect(router.partition(forKey: nil, elapsed: .milliseconds(25)) == 2)
        #expect(router.partition(forKey: nil, elapsed: .milliseconds(31)) == 0)
    }

    @Test func batchAcksTellTheBrokerWhatIsLeft() {
        var tracker = BatchAckTracker()
        let id = { (index: Int32) in MessageID(ledgerID: 3, entryID: 9, batchIndex: index, batchSize: 3) }
        let first = tracker.acknowledge(id(1))
        #expect(first.entry == MessageID(ledgerID: 3, entryID: 9))
        #expect(first.ackSet == [0b101])
        #expect(tracker.acknowledge(id(0)).ackSet == [0b100])
        #expect(tracker.acknowledge(id(2)).ackSet == nil)
        // A message outside a batch is acknowledged whole.
        #expect(tracker.acknowledge(MessageID(ledgerID: 3, entryID: 10)).ackSet == nil)
    }

    @Test func cumulativeAckInsideABatchKeepsTheRestUnacknowledged() {
        var tracker = BatchAckTracker()
        let ack = tracker.acknowledgeCumulative(MessageID(ledgerID: 1, entryID: 2, batchIndex: 1, batchSize: 4))
        #expect(ack.ackSet == [0b1100])
        #expect(tracker.acknowledgeCumulative(MessageID(ledgerID: 1, entryID: 2, batchIndex: 3, batchSize: 4)).ackSet == nil)
    }

    @Test func negativeAcksComeDueAfterTheirDelay() {
        var tracker = RedeliveryTracker<TestInstant>(nackDelay: .seconds(1), ackTimeout: nil)
        let a = MessageID(ledgerID: 1, entryID: 1, batchIndex: 0, batchSize: 2)
        tracker.received(a, now: .zero)
        tracker.negativelyAcknowledged(a, now: .zero)
        #expect(tracker.due(now: .zero.advanced(by: .milliseconds(999))).isEmpty)
        #expect(tracker.due(now: .zero.advanced(by: .seconds(1))) == [a.entry])
        #expect(tracker.isEmpty)
    }

    @Test func ackTimeoutRedeliversWhatWasNotAcknowledged() {
        var tracker = RedeliveryTracker<TestInstant>(nackDelay: .seconds(1), ackTimeout: .seconds(5))
        let a = MessageID(ledgerID: 1, entryID: 1)
        let b = MessageID(ledgerID: 1, entryID: 2)
        tracker.received(a, now: .zero)
        tracker.received(b, now: .zero.advanced(by: .seconds(1)))
        tracker.acknowledged(entry: a)
        #expect(tracker.due(now: .zero.advanced(by: .seconds(5))).isEmpty)
        #expect(tracker.due(now: .zero.advanced(by: .seconds(6))) == [b])
    }

    @Test func startPositionSkipsWhatComesBeforeIt() {
        let start = MessageID(ledgerID: 5, entryID: 10)
        let exclusive = StartPosition(id: start, inclusive: false)
        let inclusive = StartPosition(id: start, inclusive: true)
        #expect(exclusive.skips(MessageID(ledgerID: 5, entryID: 10), publishTime: 0))
        #expect(!inclusive.skips(MessageID(ledgerID: 5, entryID: 10), publishTime: 0))
        #expect(exclusive.skips(MessageID(ledgerID: 5, entryID: 10, batchIndex: 3, batchSize: 4), publishTime: 0))
        #expect(!exclusive.skips(MessageID(ledgerID: 5, entryID: 11), publishTime: 0))
        #expect(inclusive.skips(MessageID(ledgerID: 4, entryID: 99), publishTime: 0))
        let inBatch = StartPosition(id: MessageID(ledgerID: 5, entryID: 10, batchIndex: 2, batchSize: 4), inclusive: false)
        #expect(inBatch.skips(MessageID(ledgerID: 5, entryID: 10, batchIndex: 2, batchSize: 4), publishTime: 0))
        #expect(!inBatch.skips(MessageID(ledgerID: 5, entryID: 10, batchIndex: 3, batchSize: 4), publishTime: 0))
        let byTime = StartPosition(id: .earliest, inclusive: true, publishedAtOrAfter: 1000)
        #expect(byTime.skips(MessageID(ledgerID: 1, entryID: 1), publishTime: 999))
        #expect(!byTime.skips(MessageID(ledgerID: 1, entryID: 2), publishTime: 1000))
    }

    @Test func serviceURLsParseAndBadOnesSayWhy() throws {
        let url = try ServiceURL(parsing: "pulsar://a:1234,b")
        #expect(url.scheme == .pulsar)
        #expect(url.addresses == [BrokerAddress(host: "a", port: 1234), BrokerAddress(host: "b", port: 6650)])
        let web = try ServiceURL(parsing: "http://a:1,b/")
        #expect(web.scheme == .http)
        #expect(web.addresses == [BrokerAddress(host: "a", port: 1), BrokerAddress(host: "b", port: 8080)])
        #expect(web.description == "http://a:1,b:8080")
        for bad in ["ftp://a:1", "pulsar://", "pulsar://a:0", "pulsar://a:x", "pulsar+ssl://a:6651", "https://a", "http://"] {
            #expect(throws: PulsarClientError.self) { try ServiceURL(parsing: bad) }
        }
    }

    @Test func topicNamesGetTheirDefaults() throws {
        #expect(try TopicName("t").description == "persistent://public/default/t")
        #expect(try TopicName("a/b/t").description == "persistent://a/b/t")
        #expect(try TopicName("persistent://a/b/t").partition(2).description == "persistent://a/b/t-partition-2")
        let partition = try TopicName("non-persistent://a/b/t-partition-3")
        #expect(!partition.persistent)
        #expect(partition.partitionIndex == 3)
        #expect(partition.partitionedTopic?.description == "non-persistent://a/b/t")
        #expect(try TopicName("t-partition-x").partitionIndex == -1)
        for bad in ["a/t", "persistent://a/t", "kafka://a/b/c", "a//t", "persistent://a/b/c/d"] {
            #expect(throws: PulsarClientError.self) { try TopicName(bad) }
        }
    }

    @Test func aPatternMatchesWholeLocalNamesOfItsNamespaceAndFoldsPartitions() throws {
        let pattern = try TopicPattern(namespace: "t/ns", pattern: "orders-.*")
        let listed = [
            "persistent://t/ns/orders-eu-partition-0", "persistent://t/ns/orders-eu-partition-1", "persistent://t/ns/orders-us",
            "persistent://t/ns/my-orders-us", "persistent://t/other/orders-x", "persistent://t/ns/orders", "not a topic",
        ]
        #expect(pattern.matching(listed).map(\.description) == ["persistent://t/ns/orders-eu", "persistent://t/ns/orders-us"])
        #expect(pattern.matching([]).isEmpty)
        #expect(throws: PulsarClientError.self) { try TopicPattern(namespace: "t/ns", pattern: "(") }
        #expect(throws: PulsarClientError.self) { try TopicPattern(namespace: "ns", pattern: ".*") }
    }

    @Test func httpStatusesMapToRetriableOrFinalErrors() {
        #expect(PulsarClientError(.lookupFailed, "", serverError: PulsarClient.serverError(status: 503)).isRetriable)
        #expect(PulsarClientError(.lookupFailed, "", serverError: PulsarClient.serverError(status: 500)).isRetriable)
        for status in [400, 403, 404, 412] {
            #expect(!PulsarClientError(.lookupFailed, "", serverError: PulsarClient.serverError(status: status)).isRetriable)
        }
    }

    @Test func messageIDsParseAndOrder() {
        #expect(MessageID(parsing: "3:4") == MessageID(ledgerID: 3, entryID: 4))
        #expect(MessageID(parsing: "3:4:-1:2")?.batchIndex == 2)
        #expect(MessageID(parsing: "earliest") == .earliest)
        #expect(MessageID(parsing: "3") == nil)
        #expect(MessageID(ledgerID: 1, entryID: 9) < MessageID(ledgerID: 2, entryID: 0))
        #expect(MessageID.earliest < MessageID(ledgerID: 0, entryID: 0))
    }
}
