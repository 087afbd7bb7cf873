import Foundation
import PulsarProto

/// A topic's full name, `persistent://tenant/namespace/local` or
/// `non-persistent://tenant/namespace/local`, parsed and checked.
public struct TopicName: Hashable, Sendable, CustomStringConvertible {
    public var persistent: Bool
    public var tenant: String
    public var namespace: String
    public var local: String

    /// Parses a full name or a short one (`my-topic` means `persistent://public/default/my-topic`).
    public init(_ text: String) throws(BrokerError) {
        var rest = Substring(text)
        if rest.hasPrefix("persistent://") {
            self.persistent = true
            rest = rest.dropFirst("persistent://".count)
        } else if rest.hasPrefix("non-persistent://") {
            self.persistent = false
            rest = rest.dropFirst("non-persistent://".count)
        } else if !rest.contains("/") {
            self.persistent = true
            rest = "public/default/" + rest
        } else {
            throw BrokerError(.invalidTopicName, "'\(text)' is not a topic name (persistent://tenant/namespace/topic)")
        }
        let parts = rest.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }), !parts[2].contains("/") else {
            throw BrokerError(.invalidTopicName, "'\(text)' is not a topic name (persistent://tenant/namespace/topic)")
        }
        self.tenant = String(parts[0])
        self.namespace = String(parts[1])
        self.local = String(parts[2])
    }

    public var description: String { "\(self.domain)://\(self.tenant)/\(self.namespace)/\(self.local)" }

    /// `persistent` or `non-persistent`.
    public var domain: String { self.persistent ? "persistent" : "non-persistent" }

    /// N for a partition `…-partition-N` of a partitioned topic, else -1.
    var partitionIndex: Int {
        guard let range = self.local.range(of: "-partition-", options: .backwards),
            let index = Int(self.local[range.upperBound...]), index >= 0
        else { return -1 }
        return index
    }

    /// For a partition, the partitioned topic it belongs to; nil otherwise.
    var partitionedTopic: TopicName? {
        guard self.partitionIndex >= 0, let range = self.local.range(of: "-partition-", options: .backwards) else { return nil }
        var base = self
        base.local = String(self.local[..<range.lowerBound])
        return base
    }

    /// The managed ledger's name: `tenant/namespace/persistent/local`.
    var ledgerName: String { "\(self.tenant)/\(self.namespace)/persistent/\(self.local)" }
}
