import Foundation
import MagnetarVersion

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
        var out = "# TYPE pulsar_version_info gauge\npulsar_version_info{cluster=\"\(self.cluster)\",version=\"\(MagnetarVersion.current)\"} 1\n"
        var namespaces: [String: Int] = [:]
        for sample in samples { namespaces["\(sample.topic.tenant)/\(sample.topic.namespace)", default: 0] += 1 }
        out += "# TYPE pulsar_topics_count gauge\n"
        for (namespace, count) in namespaces.sorted(by: { $0.key < $1.key }) {
            out += "pulsar_topics_count{cluster=\"\(self.cluster)\",namespace=\"\(namespace)\"} \(count)\n"
        }
        // Series by label set: per topic, or the namespace's sum.
        var groups: [(labels: String, samples: [Sample])] = []
        if self.topicLevel {
            groups = samples.sorted { $0.topic.description < $1.topic.description }.map { (self.labels($0.topic, withTopic: true), [$0]) }
        } else {
            var byNamespace: [String: [Sample]] = [:]
            for sample in samples { byNamespace[self.labels(sample.topic, withTopic: false), default: []].append(sample) }
            groups = byNamespace.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        func gauge(_ name: String, _ value: (TopicStats) -> Double) {
            out += "# TYPE \(name) gauge\n"
            for group in groups {
                out += "\(name){\(group.labels)} \(Self.number(group.samples.reduce(0) { $0 + value($1.stats) }))\n"
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
        self.buckets(&out, "pulsar_storage_write_latency", Self.latencyNames, groups.map { ($0.labels, $0.samples.map(\.writeLatency)) })
        self.buckets(&out, "pulsar_entry_size", Self.sizeNames, groups.map { ($0.labels, $0.samples.map(\.entrySizes)) })
        self.subscriptions(&out, samples)
        return out
    }

    /// The subscription series, per topic and subscription (only at topic level).
    private func subscriptions(_ out: inout String, _ samples: [Sample]) {
        guard self.topicLevel else { return }
        let rows = samples.sorted { $0.topic.description < $1.topic.description }.flatMap { sample in
            sample.stats.subscriptions.sorted { $0.key < $1.key }.map { (self.labels(sample.topic, withTopic: true) + ",subscription=\"\(Self.escaped($0.key))\"", $0.value) }
        }
        for (name, value) in [
            ("pulsar_subscription_back_log", { (stats: TopicStats.SubscriptionStats) in Double(stats.msgBacklog) }),
            ("pulsar_subscription_unacked_messages", { Double($0.unackedMessages) }),
            ("pulsar_subscription_msg_rate_out", { $0.msgRateOut }),
            ("pulsar_subscription_msg_throughput_out", { $0.msgThroughputOut }),
            ("pulsar_subscription_consumers_count", { Double($0.consumers.count) }),
        ] {
            out += "# TYPE \(name) gauge\n"
            for (labels, stats) in rows { out += "\(name){\(labels)} \(Self.number(value(stats)))\n" }
        }
    }

    private func buckets(_ out: inout String, _ name: String, _ names: [String], _ groups: [(String, [BucketCounters.Reading])]) {
        for (index, suffix) in (names + ["overflow"]).enumerated() {
            out += "# TYPE \(name)_le_\(suffix) gauge\n"
            for (labels, readings) in groups { out += "\(name)_le_\(suffix){\(labels)} \(readings.reduce(0) { $0 + $1.counts[index] })\n" }
        }
        out += "# TYPE \(name)_count gauge\n"
        for (labels, readings) in groups { out += "\(name)_count{\(labels)} \(readings.reduce(0) { $0 + $1.count })\n" }
        out += "# TYPE \(name)_sum gauge\n"
        for (labels, readings) in groups { out += "\(name)_sum{\(labels)} \(Self.number(readings.reduce(0) { $0 + $1.sum }))\n" }
    }

    private func labels(_ topic: TopicName, withTopic: Bool) -> String {
        let namespace = "cluster=\"\(self.cluster)\",namespace=\"\(Self.escaped(topic.tenant))/\(Self.escaped(topic.namespace))\""
        return withTopic ? namespace + ",topic=\"\(Self.escaped(topic.description))\"" : namespace
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
