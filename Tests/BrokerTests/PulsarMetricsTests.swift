@testable import Broker
import PulsarWire
import Testing

@Suite("Pulsar metrics text")
struct PulsarMetricsTests {
    static func sample(_ topic: String, messagesIn: Int, backlog: Int64) throws -> PulsarMetrics.Sample {
        var stats = TopicStats()
        stats.msgInCounter = messagesIn
        stats.subscriptions["s"] = TopicStats.SubscriptionStats(msgBacklog: backlog, type: "Shared", isDurable: true)
        let latency = BucketCounters.writeLatency()
        latency.record(0.2)
        latency.record(3)
        latency.record(5000)
        return PulsarMetrics.Sample(topic: try TopicName(topic), stats: stats, writeLatency: latency.reading, entrySizes: BucketCounters.entrySize().reading)
    }

    @Test func topicLevelSeriesCarryEachTopicsLabels() throws {
        let text = PulsarMetrics(cluster: "c1", topicLevel: true).render([
            try Self.sample("persistent://t/ns/a", messagesIn: 5, backlog: 2), try Self.sample("persistent://t/ns/b", messagesIn: 7, backlog: 1),
        ])
        #expect(text.contains(#"pulsar_in_messages_total{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a"} 5"#))
        #expect(text.contains(#"pulsar_msg_backlog{cluster="c1",namespace="t/ns",topic="persistent://t/ns/b"} 1"#))
        #expect(text.contains(#"pulsar_subscription_back_log{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a",subscription="s"} 2"#))
        #expect(text.contains(#"pulsar_topics_count{cluster="c1",namespace="t/ns"} 2"#))
        // 0.2 ms in the first bucket, 3 ms in le_5, 5 s in the overflow.
        #expect(text.contains(#"pulsar_storage_write_latency_le_0_5{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a"} 1"#))
        #expect(text.contains(#"pulsar_storage_write_latency_le_5{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a"} 1"#))
        #expect(text.contains(#"pulsar_storage_write_latency_le_overflow{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a"} 1"#))
        #expect(text.contains(#"pulsar_storage_write_latency_count{cluster="c1",namespace="t/ns",topic="persistent://t/ns/a"} 3"#))
        // Every series line is `name{labels} number`.
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.split(separator: " ").count == 2 && Double(line.split(separator: " ")[1]) != nil, "\(line)")
        }
    }

    @Test func namespaceLevelSeriesSumTheTopics() throws {
        let text = PulsarMetrics(cluster: "c1", topicLevel: false).render([
            try Self.sample("persistent://t/ns/a", messagesIn: 5, backlog: 2), try Self.sample("persistent://t/ns/b", messagesIn: 7, backlog: 1),
        ])
        #expect(text.contains(#"pulsar_in_messages_total{cluster="c1",namespace="t/ns"} 12"#))
        #expect(text.contains(#"pulsar_msg_backlog{cluster="c1",namespace="t/ns"} 3"#))
        #expect(text.contains(#"pulsar_storage_write_latency_count{cluster="c1",namespace="t/ns"} 6"#))
        #expect(!text.contains("topic=\""))
        #expect(!text.contains("pulsar_subscription_back_log{"))
    }

    @Test func numbersAreWrittenAsPrometheusReadsThem() {
        var text = MetricsText()
        for value in [0, 7, 1_234_567_890_123, -42, 0.5, 1e20] { text.line("m", Array("a=\"b\"".utf8), value) }
        #expect(String(decoding: text.bytes, as: UTF8.self) == "m{a=\"b\"} 0\nm{a=\"b\"} 7\nm{a=\"b\"} 1234567890123\nm{a=\"b\"} -42\nm{a=\"b\"} 0.5\nm{a=\"b\"} 1e+20\n")
    }
}
