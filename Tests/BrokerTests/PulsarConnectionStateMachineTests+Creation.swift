@testable import Broker
import PulsarProto
import PulsarWire
import Testing

extension PulsarConnectionStateMachineTests {
    static func subscribe(_ consumerID: UInt64, request requestID: UInt64) -> PulsarFrame {
        Self.command(.subscribe) {
            $0.subscribe.consumerID = consumerID
            $0.subscribe.requestID = requestID
            $0.subscribe.topic = "persistent://t/n/x"
            $0.subscribe.subscription = "s"
        }
    }

    static func producer(_ producerID: UInt64, request requestID: UInt64) -> PulsarFrame {
        Self.command(.producer) {
            $0.producer.producerID = producerID
            $0.producer.requestID = requestID
            $0.producer.topic = "persistent://t/n/x"
        }
    }

    /// A client that gave up waiting for its SUBSCRIBE closes the consumer and subscribes
    /// again on the same connection (the C++ client does). The first subscription, done
    /// after the close, must not stay registered: before, it did, and every later
    /// SUBSCRIBE of the client was refused as ConsumerBusy for as long as the connection
    /// lived.
    @Test func aConsumerClosedWhileItWasBeingCreatedIsReleasedOnceCreated() {
        var machine = Self.connected()
        guard case .subscribe = machine.received(Self.subscribe(3, request: 1)) else { Issue.record("SUBSCRIBE was not run"); return }
        guard case .reply(let closed) = machine.received(Self.command(.closeConsumer) { $0.closeConsumer.consumerID = 3; $0.closeConsumer.requestID = 2 })
        else { Issue.record("CLOSE_CONSUMER was not answered"); return }
        #expect(closed.type == .success)
        #expect(machine.consumerCreated(3, "late") == .cancelled)
        #expect(machine.consumer(3) == nil)
        // The client's next SUBSCRIBE is run afresh.
        guard case .subscribe = machine.received(Self.subscribe(3, request: 3)) else { Issue.record("the second SUBSCRIBE was not run"); return }
        #expect(machine.consumerCreated(3, "again") == .registered)
        #expect(machine.consumer(3) == "again")
    }

    /// A SUBSCRIBE repeated while the first is under way is told to retry; one repeated
    /// for a consumer registered already is answered with success, as Pulsar does.
    @Test func aRepeatedSubscribeIsToldToRetryOrAnsweredWithSuccess() {
        var machine = Self.connected()
        guard case .subscribe = machine.received(Self.subscribe(3, request: 1)) else { Issue.record("SUBSCRIBE was not run"); return }
        guard case .reply(let busy) = machine.received(Self.subscribe(3, request: 2)) else { Issue.record("the repeat was run"); return }
        #expect(busy.type == .error && busy.error.requestID == 2 && busy.error.error == .serviceNotReady)
        #expect(machine.consumerCreated(3, "c") == .registered)
        guard case .reply(let again) = machine.received(Self.subscribe(3, request: 4)) else { Issue.record("the repeat was run"); return }
        #expect(again.type == .success && again.success.requestID == 4)
        // A failed SUBSCRIBE leaves the id free.
        guard case .subscribe = machine.received(Self.subscribe(4, request: 5)) else { Issue.record("SUBSCRIBE was not run"); return }
        machine.consumerFailed(4)
        guard case .subscribe = machine.received(Self.subscribe(4, request: 6)) else { Issue.record("the retry was not run"); return }
    }

    /// The same for producers: a repeated PRODUCER for a registered producer gets its
    /// answer again; one closed while being created is released once created.
    @Test func producersBeingCreatedAreTrackedLikeConsumers() {
        var machine = Self.connected()
        guard case .createProducer = machine.received(Self.producer(1, request: 1)) else { Issue.record("PRODUCER was not run"); return }
        guard case .reply(let busy) = machine.received(Self.producer(1, request: 2)) else { Issue.record("the repeat was run"); return }
        #expect(busy.type == .error && busy.error.error == .serviceNotReady)
        #expect(machine.producerCreated(1, "p") == .registered)
        guard case .producerExists(let existing, let request) = machine.received(Self.producer(1, request: 3)) else {
            Issue.record("a PRODUCER for a registered producer was not answered as such"); return
        }
        #expect(existing == "p" && request.requestID == 3)

        guard case .createProducer = machine.received(Self.producer(2, request: 4)) else { Issue.record("PRODUCER was not run"); return }
        _ = machine.received(Self.command(.closeProducer) { $0.closeProducer.producerID = 2; $0.closeProducer.requestID = 5 })
        #expect(machine.producerCreated(2, "late") == .cancelled)
        #expect(machine.producer(2) == nil)
    }
}
