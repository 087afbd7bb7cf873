extension LoadPlacement {
    /// A bundle too hot to stay whole, and the broker that owns it (which splits it).
    struct Split: Hashable, Sendable {
        var bundle: String
        var owner: String
    }

    /// The bundles over either limit: more than `maxTopics` topics, or more than
    /// `maxMessageRate` messages per second in and out (a nil limit is not checked). In
    /// name order, so that the same reports give the same answer.
    func bundlesToSplit(maxTopics: Int?, maxMessageRate: Double?) -> [Split] {
        var splits: [Split] = []
        for broker in self.brokers {
            for (bundle, load) in broker.bundles {
                let tooMany = maxTopics.map { load.topics > $0 } ?? false
                let tooBusy = maxMessageRate.map { load.msgRateIn + load.msgRateOut > $0 } ?? false
                if tooMany || tooBusy { splits.append(Split(bundle: bundle, owner: broker.broker)) }
            }
        }
        return splits.sorted { ($0.bundle, $0.owner) < ($1.bundle, $1.owner) }
    }
}
