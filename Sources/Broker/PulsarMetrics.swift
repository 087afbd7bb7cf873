import Foundation
import MagnetarVersion
import PulsarWire

/// Pulsar's broker metrics in the Prometheus text format, under Pulsar's names and labels
/// (`cluster`, `namespace`, `topic`, `subscription`), so that dashboards made for Pulsar
/// read them. Built at scrape time from each loaded topic's stats; with topic-level
/// series off, a namespace's topics are summed into one series per namespace.
///
/// The `_le_*` buckets count since the topic was loaded here (Pulsar's reset each stats
/// period).
struct PulsarMetrics {
    /// What one loaded topic contributes.
    struct Sample: Sendable {
        var topic: TopicName
        var stats: TopicStats
        var writeLatency: BucketCounters.Reading
        var entrySizes: BucketCounters.Reading
    }

    var cluster: String
    /// One series per topic (Pulsar's `exposeTopicLevelMetricsInPrometheus`), else per namespace.
    var topicLevel: Bool

    private static let latencyNames = BucketCounters.writeLatency().bounds.map(\.name)
    private static let sizeNames = BucketCounters.entrySize().bounds.map(\.name)

    /// The text for `samples`.
    func render(_ samples: [Sample]) -> String {
        var out = MetricsText()
        out.type("pulsar_version_info")
        out.line("pulsar_version_info", Array("cluster=\"\(self.cluster)\",version=\"\(MagnetarVersion.current)\"".utf8), 1)
        var namespaces: [String: Int] = [:]
        for sample in samples { namespaces["\(sample.topic.tenant)/\(sample.topic.namespace)", default: 0] += 1 }
        out.type("pulsar_topics_count")
        for (namespace, count) in namespaces.sorted(by: { $0.key < $1.key }) {
            out.line("pulsar_topics_count", Array("cluster=\"\(self.cluster)\",namespace=\"\(Self.escaped(namespace))\"".utf8), Double(count))
        }
        // Series by label set: per topic, or the namespace's sum. Labels are made once.
        let sorted = samples.map { ($0.topic.description, $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        var groups: [(labels: [UInt8], samples: [Sample])] = []
        if self.topicLevel {
            groups = sorted.map { (Array(self.labels($0.topic, withTopic: true).utf8), [$0]) }
        } else {
            var byNamespace: [String: [Sample]] = [:]
            for sample in sorted { byNamespace[self.labels(sample.topic, withTopic: false), default: []].append(sample) }
            groups = byNamespace.sorted { $0.key < $1.key }.map { (Array($0.key.utf8), $0.value) }
        }
        func gauge(_ name: String, _ value: (TopicStats) -> Double) {
            out.type(name)
            for group in groups {
                var total = 0.0
                for sample in group.samples { total += value(sample.stats) }
                out.line(name, group.labels, total)
            }
        }
        gauge("pulsar_subscriptions_count") { Double($0.subscriptions.count) }
        gauge("pulsar_producers_count") { Double($0.publishers.count) }
        gauge("pulsar_consumers_count") { Double($0.subscriptions.values.reduce(0) { $0 + $1.consumers.count }) }
        gauge("pulsar_rate_in") { $0.msgRateIn }
        gauge("pulsar_rate_out") { $0.msgRateOut }
        gauge("pulsar_throughput_in") { $0.msgThroughputIn }
        gauge("pulsar_throughput_out") { $0.msgThroughputOut }
        gauge("pulsar_in_messages_total") { Double($0.msgInCounter) }
        gauge("pulsar_in_bytes_total") { Double($0.bytesInCounter) }
        gauge("pulsar_storage_size") { Double($0.storageSize) }
        gauge("pulsar_msg_backlog") { Double($0.subscriptions.values.reduce(0) { $0 + $1.msgBacklog }) }
        gauge("pulsar_storage_backlog_size") { Double($0.backlogSize) }
        Self.buckets(&out, "pulsar_storage_write_latency", Self.latencyNames, groups.map { ($0.labels, $0.samples.map(\.writeLatency)) })
        Self.buckets(&out, "pulsar_entry_size", Self.sizeNames, groups.map { ($0.labels, $0.samples.map(\.entrySizes)) })
        if self.topicLevel { Self.subscriptions(&out, zip(groups, sorted).map { ($0.labels, $1.stats) }) }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    /// The subscription series, per topic (`labels`) and subscription.
    private static func subscriptions(_ out: inout MetricsText, _ topics: [(labels: [UInt8], stats: TopicStats)]) {
        var rows: [([UInt8], TopicStats.SubscriptionStats)] = []
        for (labels, stats) in topics {
            for (name, subscription) in stats.subscriptions.sorted(by: { $0.key < $1.key }) {
                rows.append((labels + Array(",subscription=\"\(Self.escaped(name))\"".utf8), subscription))
            }
        }
        for (name, value) in [
            ("pulsar_subscription_back_log", { (stats: TopicStats.SubscriptionStats) in Double(stats.msgBacklog) }),
            ("pulsar_subscription_unacked_messages", { Double($0.unackedMessages) }),
            ("pulsar_subscription_msg_rate_out", { $0.msgRateOut }),
            ("pulsar_subscription_msg_throughput_out", { $0.msgThroughputOut }),
            ("pulsar_subscription_consumers_count", { Double($0.consumers.count) }),
        ] {
            out.type(name)
            for (labels, stats) in rows { out.line(name, labels, value(stats)) }
        }
    }

    private static func buckets(_ out: inout MetricsText, _ name: String, _ names: [String], _ groups: [([UInt8], [BucketCounters.Reading])]) {
        for (index, suffix) in (names + ["overflow"]).enumerated() {
            let series = "\(name)_le_\(suffix)"
            out.type(series)
            for (labels, readings) in groups { out.line(series, labels, Double(readings.reduce(0) { $0 + $1.counts[index] })) }
        }
        out.type("\(name)_count")
        for (labels, readings) in groups { out.line("\(name)_count", labels, Double(readings.reduce(0) { $0 + $1.count })) }
        out.type("\(name)_sum")
        for (labels, readings) in groups { out.line("\(name)_sum", labels, readings.reduce(0) { $0 + $1.sum }) }
    }

    private func labels(_ topic: TopicName, withTopic: Bool) -> String {
        let namespace = "cluster=\"\(self.cluster)\",namespace=\"\(Self.escaped(topic.tenant))/\(Self.escaped(topic.namespace))\""
        return withTopic ? namespace + ",topic=\"\(Self.escaped(topic.description))\"" : namespace
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Prometheus text written straight into bytes: `# TYPE` lines and `name{labels} value`
/// lines, integral values without a decimal point.
struct MetricsText {
    var bytes: [UInt8] = []

    init() { self.bytes.reserveCapacity(1 << 16) }

    mutating func type(_ name: String) {
        self.bytes += "# TYPE ".utf8
        self.bytes += name.utf8
        self.bytes += " gauge\n".utf8
    }

    mutating func line(_ name: String, _ labels: [UInt8], _ value: Double) {
        self.bytes += name.utf8
        self.bytes.append(UInt8(ascii: "{"))
        self.bytes += labels
        self.bytes += "} ".utf8
        if value == value.rounded(), abs(value) < 1e15 {
            self.integer(Int64(value))
        } else {
            self.bytes += String(value).utf8
        }
        self.bytes.append(UInt8(ascii: "\n"))
    }

    private mutating func integer(_ value: Int64) {
        if value < 0 { self.bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            self.bytes += buffer[(20 - count)...]
        }
    }
}
