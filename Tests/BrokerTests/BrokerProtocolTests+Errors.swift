import ClusterTesting
import NIOCore
import PulsarProto
import PulsarWire
import SwiftProtobuf
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
        var subscribe = Pulsar_Proto_BaseCommand()
        subscribe.type = .subscribe
        subscribe.subscribe.requestID = 42
        subscribe.subscribe.consumerID = 1
        let bytes: [UInt8] = try subscribe.serializedBytes(partial: true)
        var frame = ByteBuffer()
        frame.writeMultipleIntegers(UInt32(4 + bytes.count), UInt32(bytes.count))
        frame.writeBytes(bytes)
        try await client.sendRaw(frame)
        let answer = try await client.next(timeout: .seconds(10))
        #expect(answer.command.type == .error)
        #expect(answer.command.error.requestID == 42)
        await #expect(throws: TestHarnessError.self) { _ = try await client.next(timeout: .seconds(10)) }
    }
}
