@testable import MagnetarClient
import PulsarProto
import PulsarWire
import Testing

/// The client's keep-alive towards its broker, as a value.
@Suite("Client keep-alive") struct ClientKeepAliveTests {
    typealias Machine = ClientConnectionStateMachine<Int, Int>

    static func frame(_ type: Pulsar_Proto_BaseCommand.TypeEnum) -> PulsarFrame {
        var command = Pulsar_Proto_BaseCommand()
        command.type = type
        switch type {
        case .connected: command.connected.serverVersion = "test"
        case .pong: command.pong = Pulsar_Proto_CommandPong()
        default: break
        }
        return PulsarFrame(command: command)
    }

    @Test func aSilentBrokerIsPingedThenTheConnectionClosed() {
        var machine = Machine()
        guard case .none = machine.keepAliveTick() else { Issue.record("pinged before CONNECTED"); return }
        _ = machine.received(Self.frame(.connected))
        guard case .none = machine.keepAliveTick() else { Issue.record("pinged a broker just heard from"); return }
        guard case .reply(let ping) = machine.keepAliveTick(), ping.type == .ping else { Issue.record("no PING after a silent interval"); return }
        guard case .closeConnection = machine.keepAliveTick() else { Issue.record("a broker that did not answer was kept"); return }
    }

    @Test func aPongKeepsTheConnection() {
        var machine = Machine()
        _ = machine.received(Self.frame(.connected))
        _ = machine.keepAliveTick()
        _ = machine.keepAliveTick()
        _ = machine.received(Self.frame(.pong))
        guard case .none = machine.keepAliveTick() else { Issue.record("closed though the broker answered"); return }
    }
}
