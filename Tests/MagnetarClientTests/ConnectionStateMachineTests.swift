import PulsarProto
import PulsarWire
import Testing

@testable import MagnetarClient

@Suite("Client connection state machine")
struct ConnectionStateMachineTests {
    typealias Machine = ClientConnectionStateMachine<String, String>

    static func frame(_ type: Pulsar_Proto_BaseCommand.TypeEnum, _ fill: (inout Pulsar_Proto_BaseCommand) -> Void = { _ in }) -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        fill(&command)
        return PulsarFrame(command: command)
    }

    static func active() -> Machine {
        var machine = Machine()
        guard case .connected(let size, _) = machine.received(Self.frame(.connected) { $0.connected.maxMessageSize = 1024 }), size == 1024 else {
            Issue.record("CONNECTED did not finish the handshake")
            return machine
        }
        return machine
    }

    @Test func onlyConnectedFinishesTheHandshake() {
        var machine = Machine()
        guard case .closeConnection(let error) = machine.received(Self.frame(.ping)) else {
            Issue.record("a PING before CONNECTED was accepted")
            return
        }
        #expect(error.code == .protocolError)
    }

    @Test func answersGoToTheirRequestByID() {
        var machine = Self.active()
        let first = machine.sending("lookup", id: 1)
        let second = machine.sending("subscribe", id: 2)
        #expect(first && second)
        guard case .succeed(let request, _) = machine.received(Self.frame(.success) { $0.success.requestID = 2 }) else {
            Issue.record("SUCCESS was not matched")
            return
        }
        #expect(request == "subscribe")
        guard case .fail(let failed, let error) = machine.received(Self.frame(.error) { $0.error.requestID = 1; $0.error.error = .topicNotFound; $0.error.message = "no" })
        else {
            Issue.record("ERROR was not matched")
            return
        }
        #expect(failed == "lookup" && error.serverError == .topicNotFound && !error.isRetriable)
        guard case .none = machine.received(Self.frame(.success) { $0.success.requestID = 1 }) else {
            Issue.record("an answer to no request was delivered")
            return
        }
    }

    @Test func aWaitingExclusiveProducerWaitsForTheSecondAnswer() {
        var machine = Self.active()
        _ = machine.sending("producer", id: 5)
        guard case .none = machine.received(Self.frame(.producerSuccess) { $0.producerSuccess.requestID = 5; $0.producerSuccess.producerName = "p"; $0.producerSuccess.producerReady = false })
        else {
            Issue.record("a not-ready producer was completed")
            return
        }
        guard case .succeed = machine.received(Self.frame(.producerSuccess) { $0.producerSuccess.requestID = 5; $0.producerSuccess.producerName = "p" }) else {
            Issue.record("the ready producer was not completed")
            return
        }
    }

    @Test func aWaitingProducerClosedByTheBrokerHasItsRequestFailed() {
        var machine = Self.active()
        let registered = machine.register(producer: 9, "waiting")
        let sent = machine.sending("producer", id: 6, producer: 9)
        #expect(registered && sent)
        guard case .none = machine.received(Self.frame(.producerSuccess) { $0.producerSuccess.requestID = 6; $0.producerSuccess.producerReady = false }) else {
            Issue.record("a not-ready producer was completed")
            return
        }
        guard case .fail(let request, let error) = machine.received(Self.frame(.closeProducer) { $0.closeProducer.producerID = 9 }) else {
            Issue.record("a CLOSE_PRODUCER for a waiting producer left its request waiting")
            return
        }
        #expect(request == "producer" && error.isRetriable)
        #expect(machine.pendingRequests == 0)
        // Once let in, a CLOSE_PRODUCER goes to the producer itself.
        _ = machine.register(producer: 9, "ready")
        _ = machine.sending("producer again", id: 7, producer: 9)
        guard case .succeed = machine.received(Self.frame(.producerSuccess) { $0.producerSuccess.requestID = 7 }),
            case .deliver(let listener, _) = machine.received(Self.frame(.closeProducer) { $0.closeProducer.producerID = 9 })
        else {
            Issue.record("a ready producer's CLOSE_PRODUCER was not delivered to it")
            return
        }
        #expect(listener == "ready")
    }

    @Test func framesGoToTheirProducerOrConsumerAndBrokerClosesUnregister() {
        var machine = Self.active()
        let producerRegistered = machine.register(producer: 1, "producer-1")
        let consumerRegistered = machine.register(consumer: 1, "consumer-1")
        #expect(producerRegistered && consumerRegistered)
        guard case .deliver(let producer, _) = machine.received(Self.frame(.sendReceipt) { $0.sendReceipt.producerID = 1; $0.sendReceipt.sequenceID = 0 }),
            case .deliver(let consumer, _) = machine.received(Self.frame(.message) { $0.message.consumerID = 1; $0.message.messageID = MessageID(ledgerID: 1, entryID: 1).wire })
        else {
            Issue.record("frames were not delivered")
            return
        }
        #expect(producer == "producer-1" && consumer == "consumer-1")
        guard case .deliver = machine.received(Self.frame(.closeConsumer) { $0.closeConsumer.consumerID = 1; $0.closeConsumer.requestID = 0 }),
            case .none = machine.received(Self.frame(.message) { $0.message.consumerID = 1; $0.message.messageID = MessageID(ledgerID: 1, entryID: 2).wire })
        else {
            Issue.record("a closed consumer still got messages")
            return
        }
    }

    @Test func pingIsAnsweredAndClosingFailsEveryRequestAndTellsEveryListener() {
        var machine = Self.active()
        guard case .reply(let pong) = machine.received(Self.frame(.ping)), pong.type == .pong else {
            Issue.record("PING was not answered")
            return
        }
        _ = machine.sending("a", id: 1)
        _ = machine.register(producer: 3, "p")
        _ = machine.register(consumer: 4, "c")
        guard case .closed(let requests, let listeners, _) = machine.channelClosed(PulsarClientError(.connectionClosed, "gone")) else {
            Issue.record("closing returned nothing")
            return
        }
        #expect(requests == ["a"] && listeners.sorted() == ["c", "p"])
        let afterClose = machine.sending("b", id: 2)
        #expect(!afterClose)
    }
}
