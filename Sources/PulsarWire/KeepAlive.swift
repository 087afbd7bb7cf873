public import PulsarProto

/// The keep-alive of one end of a Pulsar connection, as a value: the peer is PINGed after
/// an interval in which nothing was read, and given up on when the next interval passes
/// with still nothing read. Both the broker's and the client's connection state machines
/// hold one.
public struct KeepAlive: Sendable, Equatable {
    /// What to do at a tick.
    public enum Step: Sendable, Equatable {
        case nothing
        case ping
        case giveUp
    }

    private var heardSinceTick = false
    private var awaitingPong = false

    public init() {}

    /// Something was read from the peer: it counts as an answer to a PING.
    public mutating func heard() {
        self.heardSinceTick = true
        self.awaitingPong = false
    }

    /// The interval passed.
    public mutating func tick() -> Step {
        if self.awaitingPong { return .giveUp }
        defer { self.heardSinceTick = false }
        guard !self.heardSinceTick else { return .nothing }
        self.awaitingPong = true
        return .ping
    }

    /// A PING command.
    public static var ping: Pulsar_Proto_BaseCommand {
        var ping = Pulsar_Proto_BaseCommand()
        ping.type = .ping
        ping.ping = Pulsar_Proto_CommandPing()
        return ping
    }
}
