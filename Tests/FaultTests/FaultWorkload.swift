import ClusterTesting
import Foundation

/// Producers and consumers of the real Pulsar client on the fault cluster: per topic one
/// client process with two producers (explicit sequence numbers), and two consumer
/// processes, each with its own subscription to every topic. Half of the topics have
/// deduplication on (a topic policy).
final class FaultWorkload: Sendable {
    struct Topic: Sendable {
        var name: String
        var dedup: Bool
        var producers: [String] { ["\(self.name)-a", "\(self.name)-b"] }
    }

    let topics: [Topic]
    let subscriptions = ["sub-1", "sub-2"]
    let producerProcesses: [ChildProcess]
    let consumerProcesses: [ChildProcess]
    private let stopFile: String

    private init(topics: [Topic], producers: [ChildProcess], consumers: [ChildProcess], stopFile: String) {
        self.topics = topics
        self.stopFile = stopFile
        self.producerProcesses = producers
        self.consumerProcesses = consumers
    }

    var dedupProducers: Set<String> { Set(self.topics.filter(\.dedup).flatMap(\.producers)) }

    /// Sets the topics' policies, starts the consumers and then the producers.
    static func start(on cluster: FaultCluster, topics count: Int = 4, rate: Int = 10) async throws -> FaultWorkload {
        let topics = (0..<count).map { Topic(name: "faults-\($0)", dedup: $0 % 2 == 0) }
        for topic in topics where topic.dedup {
            let path = "/admin/v2/persistent/public/default/\(topic.name)/deduplicationEnabled"
            let (status, body) = try await cluster.request("POST", broker: 0, path, body: "true")
            guard (200..<300).contains(status) else { throw TestHarnessError("cannot turn deduplication on for \(topic.name): \(status) \(body)") }
            let (readStatus, read) = try await cluster.request("GET", broker: 0, path)
            guard readStatus == 200, read.contains("true") else { throw TestHarnessError("\(topic.name)'s deduplication policy reads \(readStatus) \(read)") }
        }
        let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts")
        let python = try PythonClient.interpreter()
        var consumers: [ChildProcess] = []
        var producers: [ChildProcess] = []
        do {
            for subscription in ["sub-1", "sub-2"] {
                consumers.append(
                    try ChildProcess(
                        python, [scripts.appendingPathComponent("fault_consumer.py").path, cluster.serviceURL, topics.map(\.name).joined(separator: ","), subscription],
                        logPath: cluster.directory.file("consumer-\(subscription).log")
                    )
                )
            }
            for consumer in consumers { try await consumer.waitForOutput("STARTED", timeout: .seconds(60)) }
            for topic in topics {
                producers.append(
                    try ChildProcess(
                        python,
                        [scripts.appendingPathComponent("fault_producer.py").path, cluster.serviceURL, topic.name, topic.producers.joined(separator: ","), "\(rate)", Self.stopFile(cluster)],
                        logPath: cluster.directory.file("producer-\(topic.name).log")
                    )
                )
            }
            for producer in producers { try await producer.waitForOutput("STARTED", timeout: .seconds(60)) }
        } catch {
            for process in consumers + producers { process.stop() }
            throw error
        }
        return FaultWorkload(topics: topics, producers: producers, consumers: consumers, stopFile: Self.stopFile(cluster))
    }

    /// The file whose existence tells the producers to stop.
    private static func stopFile(_ cluster: FaultCluster) -> String { cluster.directory.file("stop-producers") }

    /// What the producers receipted so far.
    func receipts() -> [Receipt] {
        self.producerProcesses.flatMap { process in
            Self.lines(process.output(), tag: "R").map { Receipt(producer: $0.producer, sequence: $0.sequence, position: $0.position) }
        }
    }

    /// What the subscriptions received so far.
    func deliveries() -> [Delivery] {
        zip(self.subscriptions, self.consumerProcesses).flatMap { subscription, process in
            Self.lines(process.output(), tag: "M").map {
                Delivery(subscription: subscription, producer: $0.producer, sequence: $0.sequence, position: $0.position)
            }
        }
    }

    /// Lines `<tag> <producer> <sequence> <ledger> <entry>`.
    static func lines(_ output: String, tag: String) -> [(producer: String, sequence: Int, position: Position)] {
        output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 5, fields[0] == tag, let sequence = Int(fields[2]), let ledger = Int64(fields[3]), let entry = Int64(fields[4]) else {
                return nil
            }
            return (String(fields[1]), sequence, Position(ledger: ledger, entry: entry))
        }
    }

    /// Waits until every producer has `count` receipts.
    func waitForReceipts(_ count: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let counts = Dictionary(grouping: self.receipts(), by: \.producer).mapValues(\.count)
            if self.topics.flatMap(\.producers).allSatisfy({ (counts[$0] ?? 0) >= count }) { return }
            guard ContinuousClock.now < deadline else { throw TestHarnessError("producers did not reach \(count) receipts within \(timeout): \(counts)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Asks the producers to stop (they send nothing more and wait for every pending send)
    /// and waits for them to exit; kills those still running after `timeout`. Returns the
    /// producers that did not finish cleanly.
    func stopProducers(timeout: Duration) async -> [String] {
        FileManager.default.createFile(atPath: self.stopFile, contents: nil)
        var unfinished: [String] = []
        let deadline = ContinuousClock.now + timeout
        for (topic, process) in zip(self.topics, self.producerProcesses) {
            do {
                let status = try await process.waitForExit(timeout: max(.seconds(1), deadline - ContinuousClock.now))
                if status != 0 { unfinished.append("\(topic.name) (exit \(status))") }
            } catch {
                unfinished.append("\(topic.name) (killed after \(timeout))")
            }
        }
        return unfinished
    }

    /// Waits until every subscription has received every receipted message, or `timeout`.
    func drain(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        let wanted = Set(self.receipts().map { "\($0.producer) \($0.sequence)" })
        while ContinuousClock.now < deadline {
            let received = Dictionary(grouping: self.deliveries(), by: \.subscription).mapValues { Set($0.map { "\($0.producer) \($0.sequence)" }) }
            if self.subscriptions.allSatisfy({ wanted.isSubset(of: received[$0] ?? []) }) { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return false
    }

    func stopConsumers() {
        for process in self.consumerProcesses { process.stop() }
    }

    func stopAll() {
        for process in self.producerProcesses + self.consumerProcesses { process.stop() }
    }
}
