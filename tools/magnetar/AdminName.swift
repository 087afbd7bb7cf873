/// A topic or namespace named on a `magnetar admin` command line, and the REST paths
/// that address it.
///
/// Topics are written as Pulsar accepts them: `persistent://tenant/ns/topic` (or
/// `non-persistent://…`), `tenant/ns/topic`, or a bare `topic` in `public/default`.
/// Namespaces are `tenant/ns`. Tenant and namespace may not be empty or contain `/`;
/// the topic's local name may contain anything but is percent-encoded in paths.
struct AdminName: Equatable, Sendable, CustomStringConvertible {
    var domain: String
    var tenant: String
    var namespace: String
    /// The topic's local name; nil for a namespace.
    var topic: String?

    /// Parses a topic name.
    static func topic(_ text: String) throws(AdminError) -> AdminName {
        var rest = Substring(text)
        var domain = "persistent"
        if let schemeEnd = text.firstRange(of: "://") {
            domain = String(text[..<schemeEnd.lowerBound])
            guard domain == "persistent" || domain == "non-persistent" else {
                throw AdminError(.invalidArgument, "'\(text)': the domain must be persistent or non-persistent")
            }
            rest = text[schemeEnd.upperBound...]
        }
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !text.contains("://") && !parts[0].isEmpty:
            return AdminName(domain: domain, tenant: "public", namespace: "default", topic: String(parts[0]))
        case 3 where !parts[0].isEmpty && !parts[1].isEmpty && !parts[2].isEmpty:
            return AdminName(domain: domain, tenant: String(parts[0]), namespace: String(parts[1]), topic: String(parts[2]))
        default:
            throw AdminError(
                .invalidArgument, "'\(text)' is not a topic: write persistent://tenant/namespace/topic, tenant/namespace/topic or topic"
            )
        }
    }

    /// Parses a `tenant/namespace` name.
    static func namespace(_ text: String) throws(AdminError) -> AdminName {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw AdminError(.invalidArgument, "'\(text)' is not a namespace: write tenant/namespace")
        }
        return AdminName(domain: "persistent", tenant: String(parts[0]), namespace: String(parts[1]), topic: nil)
    }

    /// `persistent://tenant/ns/topic` for a topic, `tenant/ns` for a namespace.
    var description: String {
        if let topic { "\(self.domain)://\(self.tenant)/\(self.namespace)/\(topic)" } else { "\(self.tenant)/\(self.namespace)" }
    }

    /// `/admin/v2/persistent/tenant/ns/topic` (a topic) or `/admin/v2/namespaces/tenant/ns`
    /// (a namespace).
    var adminPath: String {
        if let topic {
            "/admin/v2/\(self.domain)/\(self.tenantAndNamespace)/\(AdminRequest.segment(topic))"
        } else {
            "/admin/v2/namespaces/\(self.tenantAndNamespace)"
        }
    }

    /// `/admin/v2/persistent/tenant/ns`: the namespace's topics resource.
    var topicsPath: String { "/admin/v2/\(self.domain)/\(self.tenantAndNamespace)" }

    /// `/lookup/v2/topic/persistent/tenant/ns/topic`.
    var lookupPath: String {
        "/lookup/v2/topic/\(self.domain)/\(self.tenantAndNamespace)/\(AdminRequest.segment(self.topic ?? ""))"
    }

    private var tenantAndNamespace: String { "\(AdminRequest.segment(self.tenant))/\(AdminRequest.segment(self.namespace))" }
}
