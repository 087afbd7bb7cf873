import Foundation
import Glibc
import PulsarWire

/// Measures a broker's load between two reports: message and byte rates per bundle from
/// the topics' counters, and the CPU the process used.
actor LoadMeter {
    private var readings: [TopicName: TrafficCounters.Reading] = [:]
    private var last = ContinuousClock.now
    private var lastCPU = LoadMeter.cpuSeconds()

    /// The report for `topics` since the last one.
    func report(_ topics: [Topic], owned: [Bundle], connections: Int) -> BrokerLoadReport {
        let now = ContinuousClock.now
        let elapsed = max((now - self.last) / .seconds(1), 0.001)
        var report = BrokerLoadReport(connections: connections, topics: topics.count, timestamp: Date().timeIntervalSince1970)
        for bundle in owned { report.bundles[bundle.description] = BundleLoad() }
        var readings: [TopicName: TrafficCounters.Reading] = [:]
        for topic in topics {
            let reading = topic.counters.reading
            readings[topic.name] = reading
            let before = self.readings[topic.name] ?? TrafficCounters.Reading()
            var load = BundleLoad()
            load.msgRateIn = Double(reading.messagesIn - before.messagesIn) / elapsed
            load.msgRateOut = Double(reading.entriesOut - before.entriesOut) / elapsed
            load.msgThroughputIn = Double(reading.bytesIn - before.bytesIn) / elapsed
            load.msgThroughputOut = Double(reading.bytesOut - before.bytesOut) / elapsed
            load.topics = 1
            report.msgRateIn += load.msgRateIn
            report.msgRateOut += load.msgRateOut
            report.msgThroughputIn += load.msgThroughputIn
            report.msgThroughputOut += load.msgThroughputOut
            if let bundle = owned.first(where: { $0.contains(topic.name) }) {
                var total = report.bundles[bundle.description] ?? BundleLoad()
                total.msgRateIn += load.msgRateIn
                total.msgRateOut += load.msgRateOut
                total.msgThroughputIn += load.msgThroughputIn
                total.msgThroughputOut += load.msgThroughputOut
                total.topics += 1
                report.bundles[bundle.description] = total
            }
        }
        let cpu = Self.cpuSeconds()
        report.cpu = min(1, max(0, (cpu - self.lastCPU) / elapsed / Double(ProcessInfo.processInfo.activeProcessorCount)))
        self.readings = readings
        self.last = now
        self.lastCPU = cpu
        return report
    }

    /// CPU seconds the process has used (user and system), from `/proc/self/stat`.
    static func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let end = text.lastIndex(of: ")") else { return 0 }
        // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
