import MagnetarClient

/// A topic or namespace named on a `magnetar admin` command line, and the REST paths
/// that address it.
///
/// Topics are written as Pulsar accepts them: `persistent://tenant/ns/topic` (or
/// `non-persistent://…`), `tenant/ns/topic`, or a bare `topic` in `public/default`.
/// Namespaces are `tenant/ns`. No part may be empty or contain `/`; the topic's local
/// name is percent-encoded in paths.
struct AdminName: Equatable, Sendable, CustomStringConvertible {
    var domain: String
    var tenant: String
    var namespace: String
    /// The topic's local name; nil for a namespace.
    var topic: String?

    /// Parses a topic name (as the broker and the client do: ``TopicName``).
    static func topic(_ text: String) throws(AdminError) -> AdminName {
        do {
            let name = try TopicName(parsing: text)
            return AdminName(domain: name.domain, tenant: name.tenant, namespace: name.namespace, topic: name.local)
        } catch {
            throw AdminError(.invalidArgument, error.message)
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
