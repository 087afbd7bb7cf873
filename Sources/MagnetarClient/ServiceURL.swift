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

/// A parsed `pulsar://host[:port][,host[:port]…]` or `http://host[:port][,…]` service
/// URL: the brokers a client asks first (lookups go round-robin over them), over the
/// binary protocol (port 6650 by default) or over HTTP (port 8080 by default).
public struct ServiceURL: Hashable, Sendable, CustomStringConvertible {
    /// How lookups are made.
    public enum Scheme: String, Hashable, Sendable {
        /// LOOKUP and PARTITIONED_METADATA on a broker connection.
        case pulsar
        /// `GET /lookup/v2/topic/…` and the admin API on a broker's HTTP port.
        case http
    }

    public var scheme: Scheme
    public var addresses: [BrokerAddress]

    public init(scheme: Scheme = .pulsar, addresses: [BrokerAddress]) {
        self.scheme = scheme
        self.addresses = addresses
    }

    /// Parses `text`; throws ``PulsarClientError/Code/invalidServiceURL`` with the reason.
    public init(parsing text: String) throws(PulsarClientError) {
        let scheme: Scheme
        if text.hasPrefix("pulsar://") {
            scheme = .pulsar
        } else if text.hasPrefix("http://") {
            scheme = .http
        } else if text.hasPrefix("pulsar+ssl://") || text.hasPrefix("https://") {
            throw PulsarClientError(.invalidServiceURL, "'\(text)': TLS (pulsar+ssl://, https://) is not supported")
        } else {
            throw PulsarClientError(.invalidServiceURL, "'\(text)' is not a pulsar:// or http:// URL")
        }
        var rest = Substring(text.dropFirst(scheme.rawValue.count + 3))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var addresses: [BrokerAddress] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            addresses.append(try Self.address(part, in: text, defaultPort: scheme == .pulsar ? 6650 : 8080))
        }
        self.scheme = scheme
        self.addresses = addresses
    }

    /// Parses one `host[:port]`.
    static func address(_ part: Substring, in text: String, defaultPort: Int) throws(PulsarClientError) -> BrokerAddress {
        guard !part.isEmpty else { throw PulsarClientError(.invalidServiceURL, "'\(text)' has an empty host") }
        if let colon = part.lastIndex(of: ":"), !part.hasSuffix("]") {
            let host = part[..<colon]
            guard let port = Int(part[part.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else {
                throw PulsarClientError(.invalidServiceURL, "'\(text)': '\(part)' is not host:port with a port in 1...65535")
            }
            return BrokerAddress(host: String(host.trimmingBrackets), port: port)
        }
        return BrokerAddress(host: String(part.trimmingBrackets), port: defaultPort)
    }

    public var description: String { "\(self.scheme.rawValue)://" + self.addresses.map(\.description).joined(separator: ",") }
}

extension Substring {
    fileprivate var trimmingBrackets: Substring {
        self.hasPrefix("[") && self.hasSuffix("]") ? self.dropFirst().dropLast() : self
    }
}
