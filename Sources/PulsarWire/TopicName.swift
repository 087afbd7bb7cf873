import Foundation

/// A topic's full name, `persistent://tenant/namespace/local` or
/// `non-persistent://tenant/namespace/local`, parsed and checked; the broker and the
/// client share it.
///
/// Short forms, as Pulsar's clients write them: `local` alone means
/// `persistent://public/default/local`, and `tenant/namespace/local` gets the
/// `persistent://` domain. Partition `i` of a partitioned topic is `<topic>-partition-i`.
public struct TopicName: Hashable, Sendable, CustomStringConvertible {
    public var persistent: Bool
    public var tenant: String
    public var namespace: String
    public var local: String

    /// Parses a topic name; throws ``PulsarWireError/Code/invalidTopicName`` saying what
    /// is wrong with it.
    public init(parsing text: String) throws(PulsarWireError) {
        var rest = Substring(text)
        var persistent = true
        if let scheme = rest.range(of: "://") {
            switch rest[..<scheme.lowerBound] {
            case "persistent": persistent = true
            case "non-persistent": persistent = false
            default:
                throw PulsarWireError(.invalidTopicName, "'\(text)': the domain must be persistent:// or non-persistent://")
            }
            rest = rest[scheme.upperBound...]
        } else if !rest.contains("/") {
            rest = "public/default/" + rest
        }
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }), !parts[2].contains("/") else {
            throw PulsarWireError(
                .invalidTopicName, "'\(text)' is not a topic name: write 'name', 'tenant/namespace/name' or 'persistent://tenant/namespace/name'"
            )
        }
        for (part, kind) in zip(parts, ["tenant", "namespace", "topic"]) {
            if let refusal = PulsarName.refusal(part, kind: kind) { throw PulsarWireError(.invalidTopicName, "'\(text.prefix(300))': \(refusal)") }
        }
        self.persistent = persistent
        self.tenant = String(parts[0])
        self.namespace = String(parts[1])
        self.local = String(parts[2])
    }

    public var description: String { "\(self.domain)://\(self.tenant)/\(self.namespace)/\(self.local)" }

    /// `persistent` or `non-persistent`.
    public var domain: String { self.persistent ? "persistent" : "non-persistent" }

    /// `tenant/namespace`.
    public var namespaceName: String { "\(self.tenant)/\(self.namespace)" }

    /// The name of partition `index` of this (partitioned) topic.
    public func partition(_ index: Int) -> TopicName {
        var name = self
        name.local = "\(self.local)-partition-\(index)"
        return name
    }

    /// N for a partition `…-partition-N` of a partitioned topic, else -1; as in Pulsar, N
    /// is a 32-bit number (a larger one makes the name an ordinary topic's).
    public var partitionIndex: Int {
        guard let range = self.local.range(of: "-partition-", options: .backwards),
            let index = Int32(self.local[range.upperBound...]), index >= 0
        else { return -1 }
        return Int(index)
    }

    /// For a partition, the partitioned topic it belongs to; nil otherwise.
    public var partitionedTopic: TopicName? {
        guard self.partitionIndex >= 0, let range = self.local.range(of: "-partition-", options: .backwards) else { return nil }
        var base = self
        base.local = String(self.local[..<range.lowerBound])
        return base
    }
}
