@testable import Broker
import ManagedLedger
import NIOCore
import NIOEmbedded
import PulsarProto
import PulsarWire
import Testing

extension PulsarConnectionHandlerTests {
    /// A consumer as a connection drives it, doing nothing.
    final class IdleConsumer: ConsumerHandle {
        let consumerID: UInt64
        init(_ id: UInt64) { self.consumerID = id }
        var isClosed: Bool { true }
        var partition: Int { -1 }
        func flow(permits: Int) {}
        func ack(_ messages: [AckedMessage], cumulative: Bool, completion: @escaping @Sendable (BrokerError?) -> Void) { completion(nil) }
        func redeliver(_ positions: [Position]) {}
        func release() {}
        func subscribed() {}
        func unsubscribe() async throws {}
        func seek(_ request: Pulsar_Proto_CommandSeek) async throws {}
        func lastMessage() async throws -> LastMessage { throw BrokerError(.notAllowed, "idle") }
        func stats() async throws -> ConsumerStats { throw BrokerError(.notAllowed, "idle") }
    }

    /// A topic closing a consumer still being created sends no CLOSE_CONSUMER: its client
    /// would take it before the SUBSCRIBE's SUCCESS and then keep a consumer the broker no
    /// longer has (the subscribe request looks again once it has answered). Once the
    /// consumer is registered, the close is sent. (Before, the close was sent at once.)
    @Test func aConsumerClosedBeforeItIsRegisteredHearsNothingYet() async throws {
        let harness = try await Harness.make()
        try await harness.connect()
        try await harness.read([PulsarConnectionStateMachineTests.command(.subscribe) {
            $0.subscribe.topic = "persistent://public/default/closing"
            $0.subscribe.subscription = "s"
            $0.subscribe.subType = .exclusive
            $0.subscribe.consumerID = 7
            $0.subscribe.requestID = 1
        }.command])
        let consumer = IdleConsumer(7)
        harness.connection.consumerClosed(consumer)
        #expect(try await harness.written().map(\.type) == [], "a close for a consumer being created")

        let admission = try await harness.channel.eventLoop.submit { harness.connection.machine.consumerCreated(7, consumer) }.get()
        #expect(admission == .registered)
        harness.connection.consumerClosed(consumer)
        let written = try await harness.written()
        #expect(written.map(\.type) == [.closeConsumer])
        #expect(written.first?.closeConsumer.consumerID == 7)
    }
}
