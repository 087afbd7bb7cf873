import ClusterTesting
import NIOCore
import PulsarProto
import PulsarWire
import Testing

extension BrokerProtocolTests {
    /// A request before CONNECT is refused by its own id, in its own response type, and the
    /// connection closes; a request whose command lacks a required field is answered by
    /// its id before the connection closes (a client waiting on that id hears why).
    @Test func requestsTheBrokerCannotServeAreAnsweredByTheirIDs() async throws {
        let cluster = try await BrokerCluster.start(label: "raw-request-ids")
        defer { cluster.stop() }

        let early = try await RawPulsarClient.open(port: cluster.port)
        try await early.send(Self.command(.lookup) {
            $0.lookupTopic.requestID = 21
            $0.lookupTopic.topic = "persistent://public/default/early"
        })
        let lookup = try await early.next(timeout: .seconds(10))
        #expect(lookup.command.type == .lookupResponse)
        #expect(lookup.command.lookupTopicResponse.requestID == 21)
        #expect(lookup.command.lookupTopicResponse.response == .failed)
        await #expect(throws: TestHarnessError.self) { _ = try await early.next(timeout: .seconds(10)) }

        let client = try await RawPulsarClient.connect(port: cluster.port)
        try await client.sendRaw(try PulsarConnectionHandlerTests.subscribeLackingRequiredFields(requestID: 42))
        let answer = try await client.next(timeout: .seconds(10))
        #expect(answer.command.type == .error)
        #expect(answer.command.error.requestID == 42)
        await #expect(throws: TestHarnessError.self) { _ = try await client.next(timeout: .seconds(10)) }
    }
}
