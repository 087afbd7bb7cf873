/// A broker's `host:port`, as service URLs and lookup answers name it.
public struct BrokerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(self.host):\(self.port)" }
    /// `pulsar://host:port`.
    public var url: String { "pulsar://\(self)" }
}

/// A parsed `pulsar://host[:port][,host[:port]…]` service URL: the brokers a client
/// asks first (lookups go round-robin over them). The port defaults to 6650.
public struct ServiceURL: Hashable, Sendable, CustomStringConvertible {
    public var addresses: [BrokerAddress]

    public init(addresses: [BrokerAddress]) {
        self.addresses = addresses
    }

    /// Parses `text`; throws ``PulsarClientError/Code/invalidServiceURL`` with the reason.
    public init(parsing text: String) throws(PulsarClientError) {
        let scheme = "pulsar://"
        guard text.hasPrefix(scheme) else {
            if text.hasPrefix("pulsar+ssl://") {
                throw PulsarClientError(.invalidServiceURL, "'\(text)': TLS (pulsar+ssl://) is not supported")
            }
            throw PulsarClientError(.invalidServiceURL, "'\(text)' is not a pulsar:// URL")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var addresses: [BrokerAddress] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            addresses.append(try Self.address(part, in: text))
        }
        self.addresses = addresses
    }

    /// Parses one `host[:port]`.
    static func address(_ part: Substring, in text: String) throws(PulsarClientError) -> BrokerAddress {
        guard !part.isEmpty else { throw PulsarClientError(.invalidServiceURL, "'\(text)' has an empty host") }
        if let colon = part.lastIndex(of: ":"), !part.hasSuffix("]") {
            let host = part[..<colon]
            guard let port = Int(part[part.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else {
                throw PulsarClientError(.invalidServiceURL, "'\(text)': '\(part)' is not host:port with a port in 1...65535")
            }
            return BrokerAddress(host: String(host.trimmingBrackets), port: port)
        }
        return BrokerAddress(host: String(part.trimmingBrackets), port: 6650)
    }

    public var description: String { "pulsar://" + self.addresses.map(\.description).joined(separator: ",") }
}

extension Substring {
    fileprivate var trimmingBrackets: Substring {
        self.hasPrefix("[") && self.hasSuffix("]") ? self.dropFirst().dropLast() : self
    }
}
