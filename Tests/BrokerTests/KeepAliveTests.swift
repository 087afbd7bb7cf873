@testable import Broker
import PulsarProto
import PulsarWire
import Testing

/// The broker's keep-alive as a value: a silent client is PINGed after one interval and
/// closed after the next; anything it sends counts as an answer.
@Suite struct KeepAliveTests {
    typealias Machine = PulsarConnectionStateMachine<String, String>

    static func connected() -> Machine {
        var machine = Machine()
        _ = machine.received(InputBoundsTests.connect())
        return machine
    }

    static func frame(_ type: Pulsar_Proto_BaseCommand.TypeEnum) -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        if type == .pong { command.pong = Pulsar_Proto_CommandPong() }
        if type == .flow { command.flow.consumerID = 1 }
        return PulsarFrame(command: command)
    }

    @Test func aSilentClientIsPingedThenClosed() {
        var machine = Self.connected()
        // CONNECT was heard in the first interval.
        guard case .none = machine.keepAliveTick() else { Issue.record("a client heard from was pinged"); return }
        guard case .reply(let ping) = machine.keepAliveTick(), ping.type == .ping else { Issue.record("no PING after a silent interval"); return }
        guard case .close = machine.keepAliveTick() else { Issue.record("a client that did not answer was kept"); return }
        #expect(machine.state == .closing)
        guard case .none = machine.keepAliveTick() else { Issue.record("a closing connection ticked on"); return }
    }

    @Test func aPongOrAnyCommandAnswersThePing() {
        for answer in [Pulsar_Proto_BaseCommand.TypeEnum.pong, .flow] {
            var machine = Self.connected()
            _ = machine.keepAliveTick()
            guard case .reply = machine.keepAliveTick() else { Issue.record("no PING"); return }
            _ = machine.received(Self.frame(answer))
            guard case .none = machine.keepAliveTick() else { Issue.record("closed though it answered with \(answer)"); return }
            #expect(machine.state == .active)
        }
    }

    @Test func aConnectionThatNeverSaysConnectIsClosedAtTheFirstTick() {
        var machine = Machine()
        guard case .close = machine.keepAliveTick() else { Issue.record("an idle socket was kept"); return }
    }
}
