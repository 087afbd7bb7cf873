import Synchronization

/// Counts a broker's binary-protocol connections, in all and per client address, and
/// refuses one past `brokerMaxConnections` or `brokerMaxConnectionsPerIp` (0: no limit),
/// as Pulsar's broker does: the connection is closed as it is accepted.
final class ConnectionLimiter: Sendable {
    private struct Counts {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    let maxConnections: Int
    let maxPerAddress: Int
    private let counts = Mutex(Counts())

    init(maxConnections: Int, maxPerAddress: Int) {
        self.maxConnections = maxConnections
        self.maxPerAddress = maxPerAddress
    }

    /// Counts a connection from `address`; false (counting nothing) when a limit is reached.
    func admit(_ address: String) -> Bool {
        self.counts.withLock { counts in
            if self.maxConnections > 0, counts.total >= self.maxConnections { return false }
            let fromAddress = counts.byAddress[address] ?? 0
            if self.maxPerAddress > 0, fromAddress >= self.maxPerAddress { return false }
            counts.total += 1
            counts.byAddress[address] = fromAddress + 1
            return true
        }
    }

    /// A connection counted by ``admit(_:)`` closed.
    func release(_ address: String) {
        self.counts.withLock { counts in
            counts.total -= 1
            let left = (counts.byAddress[address] ?? 1) - 1
            counts.byAddress[address] = left > 0 ? left : nil
        }
    }

    var total: Int { self.counts.withLock { $0.total } }
}
