import ClusterTesting
import Foundation
import PulsarProto
import PulsarWire
import Testing

/// A client that asks for a producer or a consumer and goes away while the topic loads:
/// what the broker registers for it afterwards is removed at once, so it holds no
/// producer name and no Exclusive subscription that nobody will ever release.
@Suite("Broker, requests of clients that left", .timeLimit(.minutes(3)))
struct BrokerAbandonedRequestTests {
    typealias Frames = BrokerProtocolTests

    @Test func whatAClientThatLeftAskedForIsReleased() async throws {
        let cluster = try await BrokerCluster.start(label: "abandoned-requests")
        defer { cluster.stop() }
        for round in 0..<3 {
            let topic = "persistent://public/default/abandoned-\(round)"
            var producer = Frames.producer(topic, id: 1, request: 1)
            producer.producer.producerName = "the-only-one"
            let subscribe = Frames.subscribe(topic, "sub", type: .exclusive, consumer: 1, name: "c", request: 2)

            // The topic is not loaded yet: both requests wait for it, and the client is gone
            // before either is answered.
            let leaving = try await RawPulsarClient.connect(port: cluster.port)
            try await leaving.send(producer)
            try await leaving.send(subscribe)
            await leaving.close()
            try await Task.sleep(for: .seconds(1))

            let staying = try await RawPulsarClient.connect(port: cluster.port)
            defer { Task { await staying.close() } }
            try await staying.send(producer)
            let produced = try await staying.next()
            #expect(
                produced.command.type == .producerSuccess,
                "round \(round): the name is free again, got \(produced.command.type) \(produced.command.error.message)"
            )
            try await staying.send(subscribe)
            let subscribed = try await staying.next()
            #expect(
                subscribed.command.type == .success,
                "round \(round): the Exclusive subscription is free again, got \(subscribed.command.type) \(subscribed.command.error.message)"
            )
        }
    }
}
