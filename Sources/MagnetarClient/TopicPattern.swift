import PulsarWire

/// The topics a pattern consumer follows: those of one namespace whose local name (a
/// partitioned topic's, for its partitions) matches a regular expression as a whole.
struct TopicPattern: @unchecked Sendable {
    // Regex holds no shared mutable state once built; it is only matched here.
    let namespace: String
    let source: String
    private let regex: Regex<AnyRegexOutput>

    init(namespace: String, pattern: String) throws(PulsarClientError) {
        guard namespace.split(separator: "/", omittingEmptySubsequences: false).count == 2, !namespace.hasPrefix("/"), !namespace.hasSuffix("/") else {
            throw PulsarClientError(.invalidArgument, "'\(namespace)' is not a namespace (tenant/namespace)")
        }
        do {
            self.regex = try Regex(pattern)
        } catch {
            throw PulsarClientError(.invalidArgument, "'\(pattern)' is not a regular expression: \(error)")
        }
        self.namespace = namespace
        self.source = pattern
    }

    /// The topics to consume among the namespace's `listed` topics (partitions listed one
    /// by one): each matching topic once, partitioned ones by their base name, sorted.
    func matching(_ listed: [String]) -> [TopicName] {
        var names: Set<String> = []
        for topic in listed {
            guard let name = try? TopicName(topic), name.namespaceName == self.namespace else { continue }
            let base = name.partitionedTopic ?? name
            if (try? self.regex.wholeMatch(in: base.local)) != nil { names.insert(base.description) }
        }
        return names.sorted().compactMap { try? TopicName($0) }
    }
}
