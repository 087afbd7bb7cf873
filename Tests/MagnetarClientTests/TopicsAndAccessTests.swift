import ClusterTesting
import Foundation
import MagnetarClient
import PulsarProto
import Testing

/// Consumers of several topics, and producer access modes, against a real broker.
@Suite("Several topics and access modes", .timeLimit(.minutes(1)))
struct TopicsAndAccessTests {
    @Test func oneConsumerReadsSeveralTopicsAndAPattern() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let stem = "multi\(UInt32.random(in: 0...UInt32.max))"
        let names = ["\(stem)-a", "\(stem)-b", "\(stem)-c"]
        for name in names {
            let producer = try await client.createProducer(topic: name)
            try await producer.send("\(name)-1")
            try await producer.send("\(name)-2")
            await producer.close()
        }

        let listed = try await client.subscribe(topics: [names[0], names[1]], subscription: "list", configuration: ConsumerConfiguration(initialPosition: .earliest))
        var texts: [String] = []
        for _ in 0..<4 {
            let message = try await listed.receive()
            listed.acknowledge(message)
            texts.append(message.text)
        }
        #expect(Set(texts) == ["\(names[0])-1", "\(names[0])-2", "\(names[1])-1", "\(names[1])-2"])
        await listed.close()

        let matching = try await client.subscribe(
            namespace: "public/default", topicsMatching: "\(stem)-[bc]", subscription: "pattern", configuration: ConsumerConfiguration(initialPosition: .earliest)
        )
        #expect(Set(matching.topics) == Set(names[1...].map { "persistent://public/default/\($0)" }))
        var matched: Set<String> = []
        for _ in 0..<4 {
            let message = try await matching.receive()
            matching.acknowledge(message)
            matched.insert(message.text)
        }
        #expect(matched == ["\(names[1])-1", "\(names[1])-2", "\(names[2])-1", "\(names[2])-2"])
        await matching.close()

        await #expect(throws: PulsarClientError.self) {
            _ = try await client.subscribe(namespace: "public/default", topicsMatching: "(", subscription: "bad")
        }
    }

    @Test func exclusiveProducersShutOthersOutAndFencingTakesOver() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        let topic = uniqueTopic("access")
        let first = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: .exclusive))
        try await first.send("from first")
        let refused = await #expect(throws: PulsarClientError.self) {
            _ = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: .exclusive))
        }
        #expect(refused?.serverError == .producerFenced)

        // Fencing takes the topic: the first producer is closed and its sends fail.
        let fencer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: .exclusiveWithFencing))
        try await fencer.send("from fencer")
        let fenced = await #expect(throws: PulsarClientError.self) {
            for _ in 0..<50 {
                try await first.send("after fencing")
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(fenced?.serverError == .producerFenced || fenced?.code == .producerClosed, "\(String(describing: fenced))")

        // A waiting producer gets the topic when the exclusive one leaves.
        let waiting = Task { try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: .waitForExclusive)) }
        try await Task.sleep(for: .milliseconds(300))
        await fencer.close()
        let second = try await waiting.value
        try await second.send("from waiting")
        await second.close()

        let reader = try await client.createReader(topic: topic)
        var texts: [String] = []
        while try await reader.hasMessageAvailable() { texts.append(try await reader.readNext().text) }
        #expect(texts == ["from first", "from fencer", "from waiting"])
        await reader.close()
        await first.close()
    }

    @Test func aFencedProducerStaysFencedAfterTheFencerLeaves() async throws {
        let cluster = try await SharedCluster.get()
        let client = try cluster.client()
        defer { Task { await client.close() } }
        for mode in [ProducerConfiguration.AccessMode.exclusive, .waitForExclusive] {
            let topic = uniqueTopic("fenced")
            let holder = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: mode))
            try await holder.send("from the holder")
            let fencer = try await client.createProducer(topic: topic, configuration: ProducerConfiguration(accessMode: .exclusiveWithFencing))
            try await fencer.send("from the fencer")
            // The holder reconnects with its topic epoch; once the fencer is gone it must not
            // take the topic back: the epoch moved on.
            let late = Task { try await holder.send("after fencing") }
            try await Task.sleep(for: .milliseconds(300))
            await fencer.close()
            let fenced = await #expect(throws: PulsarClientError.self) { _ = try await late.value }
            #expect(fenced?.serverError == .producerFenced || fenced?.code == .producerClosed, "\(mode): \(String(describing: fenced))")
            await holder.close()

            let reader = try await client.createReader(topic: topic)
            var texts: [String] = []
            while try await reader.hasMessageAvailable() { texts.append(try await reader.readNext().text) }
            #expect(texts == ["from the holder", "from the fencer"], "\(mode)")
            await reader.close()
        }
    }
}
