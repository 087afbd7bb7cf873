@testable import Broker
import NIOCore
import PulsarProto
import PulsarWire
import Testing

/// The connection's decisions as a value: no channel, no topic.
@Suite struct PulsarConnectionStateMachineTests {
    typealias Machine = PulsarConnectionStateMachine<String, String>

    static func command(_ type: Pulsar_Proto_BaseCommand.TypeEnum, _ fill: (inout Pulsar_Proto_BaseCommand) -> Void = { _ in }) -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        fill(&command)
        return PulsarFrame(command: command)
    }

    static func connected() -> Machine {
        var machine = Machine()
        _ = machine.received(Self.command(.connect) { $0.connect.protocolVersion = 21 })
        return machine
    }

    @Test func connectAgreesOnAProtocolVersionNoNewerThanItsOwn() {
        var machine = Machine()
        guard case .connected(let version) = machine.received(Self.command(.connect) { $0.connect.protocolVersion = 21 }) else {
            Issue.record("CONNECT was not answered with CONNECTED")
            return
        }
        #expect(version == 20)
        #expect(machine.state == .active)
    }

    @Test func aRequestBeforeConnectIsAnsweredInItsOwnTypeAndTheConnectionCloses() {
        var machine = Machine()
        guard case .replyAndClose(let lookup) = machine.received(Self.command(.lookup) { $0.lookupTopic.requestID = 7 }) else {
            Issue.record("LOOKUP before CONNECT was not refused")
            return
        }
        #expect(lookup.type == .lookupResponse)
        #expect(lookup.lookupTopicResponse.requestID == 7)
        #expect(lookup.lookupTopicResponse.response == .failed)
        #expect(machine.state == .closing)
        guard case .none = machine.received(Self.command(.connect)) else {
            Issue.record("a closing connection took CONNECT")
            return
        }

        var other = Machine()
        guard case .replyAndClose(let error) = other.received(Self.command(.producer) { $0.producer.requestID = 9 }) else {
            Issue.record("PRODUCER before CONNECT was not refused")
            return
        }
        #expect(error.type == .error)
        #expect(error.error.requestID == 9)
        #expect(error.error.error == .notAllowedError)
    }

    @Test func anUnsupportedCommandGetsAnErrorWithItsRequestIDAndTheConnectionStays() {
        var machine = Self.connected()
        guard case .reply(let answer) = machine.received(Self.command(.getSchema) { $0.getSchema.requestID = 3 }) else {
            Issue.record("GET_SCHEMA was not answered")
            return
        }
        #expect(answer.type == .getSchemaResponse)
        #expect(answer.getSchemaResponse.requestID == 3)
        guard case .reply(let txn) = machine.received(Self.command(.endTxn) { $0.endTxn.requestID = 4 }) else {
            Issue.record("END_TXN was not answered")
            return
        }
        #expect(txn.type == .endTxnResponse)
        #expect(txn.endTxnResponse.requestID == 4)
        #expect(txn.endTxnResponse.error == .transactionCoordinatorNotFound)
        guard case .reply(let error) = machine.received(Self.command(.authResponse)) else {
            Issue.record("AUTH_RESPONSE was not answered")
            return
        }
        #expect(error.type == .error)
        #expect(machine.state == .active)
    }

    @Test func aSendIsRefusedWithItsIdsWhenItsProducerIsUnknownOrItsChecksumIsWrong() {
        var machine = Self.connected()
        guard case .reply(let unknown) = machine.received(Self.command(.send) { $0.send.producerID = 5; $0.send.sequenceID = 11 }) else {
            Issue.record("a SEND for no producer was not refused")
            return
        }
        #expect(unknown.type == .sendError)
        #expect(unknown.sendError.producerID == 5)
        #expect(unknown.sendError.sequenceID == 11)

        let result1 = machine.producerCreated(5, "p") == .registered
        #expect(result1)
        var frame = Self.command(.send) { $0.send.producerID = 5; $0.send.sequenceID = 12 }
        frame.payload = PulsarPayload(
            metadata: Pulsar_Proto_MessageMetadata(), payload: ByteBuffer(), metadataAndPayload: ByteBuffer(), checksum: 1, checksumValid: false
        )
        guard case .reply(let checksum) = machine.received(frame) else {
            Issue.record("a SEND with a wrong checksum was not refused")
            return
        }
        #expect(checksum.sendError.error == .checksumError)
        #expect(checksum.sendError.sequenceID == 12)
        frame.payload?.checksumValid = true
        guard case .publish(let producer, let send, _) = machine.received(frame) else {
            Issue.record("a good SEND was not published")
            return
        }
        #expect(producer == "p")
        #expect(send.sequenceID == 12)
    }

    @Test func aFrameThatCannotBeDecodedIsAnsweredByItsRequestIDWhenItCanBeRead() {
        var machine = Self.connected()
        var partial = Pulsar_Proto_BaseCommand()
        partial.type = .subscribe
        partial.subscribe.requestID = 42
        guard case .replyAndClose(let answer) = machine.decodingFailed(PulsarWireError(.malformedCommand, "no topic", partialCommand: partial)) else {
            Issue.record("a malformed SUBSCRIBE was not answered")
            return
        }
        #expect(answer.type == .error)
        #expect(answer.error.requestID == 42)
        #expect(machine.state == .closing)
        guard case .none = machine.received(Self.command(.ping)) else {
            Issue.record("a closing connection answered PING")
            return
        }
    }

    @Test func whatIsAdmittedAfterTheChannelClosedIsReleased() {
        var machine = Self.connected()
        let result2 = machine.producerCreated(1, "p1") == .registered
        #expect(result2)
        let result3 = machine.consumerCreated(2, "c2") == .registered
        #expect(result3)
        guard case .release(let producers, let consumers) = machine.channelClosed() else {
            Issue.record("closing released nothing")
            return
        }
        #expect(producers == ["p1"])
        #expect(consumers == ["c2"])
        let result4 = machine.producerCreated(3, "late") == .registered
        #expect(!result4, "a producer admitted after the close must be released by the caller")
        let result5 = machine.consumerCreated(4, "late") == .registered
        #expect(!result5)
        #expect(machine.producerCount == 0 && machine.consumerCount == 0)
    }

    @Test func theBrokerClosingAConsumerForgetsOnlyThatOne() {
        var machine = Self.connected()
        let result6 = machine.consumerCreated(1, "old") == .registered
        #expect(result6)
        let result7 = machine.consumerClosedByBroker(1) { $0 == "another" }
        #expect(!result7, "a notice for a consumer replaced since is ignored")
        #expect(machine.consumer(1) == "old")
        let result8 = machine.consumerClosedByBroker(1) { $0 == "old" }
        #expect(result8)
        #expect(machine.consumer(1) == nil)
        guard case .none = machine.received(Self.command(.flow) { $0.flow.consumerID = 1; $0.flow.messagePermits = 10 }) else {
            Issue.record("FLOW for a closed consumer did something")
            return
        }
        guard case .reply(let ack) = machine.received(Self.command(.ack) { $0.ack.consumerID = 1; $0.ack.requestID = 8 }) else {
            Issue.record("an ACK with a request id for a closed consumer was not answered")
            return
        }
        #expect(ack.type == .ackResponse)
        #expect(ack.ackResponse.error == .consumerNotFound)
    }
}
