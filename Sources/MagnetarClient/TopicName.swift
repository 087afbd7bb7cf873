import Foundation

/// A topic's full name, `persistent://tenant/namespace/local`, from what users write.
///
/// `local` alone means `public/default`; `tenant/namespace/local` gets the
/// `persistent://` domain. Partition `i` of a partitioned topic is `<topic>-partition-i`.
public struct TopicName: Hashable, Sendable, CustomStringConvertible {
    public let domain: String
    public let tenant: String
    public let namespace: String
    public let local: String

    /// Parses a topic name; throws ``PulsarClientError/Code/invalidArgument`` for a
    /// malformed one.
    public init(_ text: String) throws(PulsarClientError) {
        var rest = Substring(text)
        var domain = "persistent"
        if let range = rest.range(of: "://") {
            domain = String(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
            guard domain == "persistent" || domain == "non-persistent" else {
                throw PulsarClientError(.invalidArgument, "'\(text)': the domain must be persistent:// or non-persistent://")
            }
        }
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !text.contains("://"):
            self.init(domain: domain, tenant: "public", namespace: "default", local: String(parts[0]))
        case 3:
            self.init(domain: domain, tenant: String(parts[0]), namespace: String(parts[1]), local: String(parts[2]))
        default:
            throw PulsarClientError(.invalidArgument, "'\(text)' is not a topic name: write 'name', 'tenant/namespace/name' or 'persistent://tenant/namespace/name'")
        }
        guard !self.tenant.isEmpty, !self.namespace.isEmpty, !self.local.isEmpty else {
            throw PulsarClientError(.invalidArgument, "'\(text)' has an empty tenant, namespace or name")
        }
    }

    private init(domain: String, tenant: String, namespace: String, local: String) {
        self.domain = domain
        self.tenant = tenant
        self.namespace = namespace
        self.local = local
    }

    public var description: String { "\(self.domain)://\(self.tenant)/\(self.namespace)/\(self.local)" }

    /// `tenant/namespace`.
    public var namespaceName: String { "\(self.tenant)/\(self.namespace)" }

    /// The name of partition `index`.
    public func partition(_ index: Int) -> TopicName {
        TopicName(domain: self.domain, tenant: self.tenant, namespace: self.namespace, local: "\(self.local)-partition-\(index)")
    }
}
