/// The leader broker's placement and shedding decisions, computed from the brokers' load
/// reports alone.
///
/// A value: it does no I/O and reads no clock (the caller passes `now`), so the same
/// reports always give the same answers. Every bundle weighs 1 plus its message rate
/// relative to the cluster's mean bundle, so idle clusters balance bundle counts and
/// busy ones balance traffic. Shedding moves at most one bundle off each overloaded
/// broker per plan, never to an overloaded broker, never the same bundle twice, never a
/// bundle still cooling down from its last move, and only when the move leaves the
/// destination below where the source started (so no move merely swaps an imbalance).
struct LoadPlacement: Sendable {
    /// A bundle to unload from `from` so that `to` takes it.
    struct Move: Hashable, Sendable {
        var bundle: String
        var from: String
        var to: String
    }

    /// The latest report of each broker; broker names are unique.
    var brokers: [BrokerLoad]
    /// How far above the average a broker's load may go before it sheds: it is
    /// overloaded above `average * (1 + threshold)`.
    var threshold: Double

    init(brokers: [BrokerLoad], threshold: Double = 0.25) {
        self.brokers = brokers
        self.threshold = threshold
    }

    /// The weight of `bundle`: 1 plus its message rate (in and out) over the mean message
    /// rate of all bundles of the cluster. The second term is 0 when the cluster carries
    /// no messages; a bundle nobody reports weighs 1.
    func weight(of bundle: String) -> Double {
        let load = self.brokers.lazy.compactMap { $0.bundles[bundle] }.first ?? BundleLoad()
        return Self.weight(of: load, meanRate: self.meanRate)
    }

    /// The load of `broker`: the sum of its bundles' weights plus `pending[broker]`
    /// (bundles assigned to it but not yet in its report, each weighing 1).
    func load(of broker: String, pending: [String: Int] = [:]) -> Double {
        let meanRate = self.meanRate
        let reported = self.brokers.first { $0.broker == broker }.map { Self.load(of: $0, meanRate: meanRate) }
        return (reported ?? 0) + Double(pending[broker] ?? 0)
    }

    /// The broker with the least load, to own an unowned bundle: ties go to the broker
    /// with fewer bundles (pending ones included), then to the smallest name. Brokers in
    /// `excluding` are never chosen; nil when no broker is left.
    func leastLoaded(pending: [String: Int] = [:], excluding: Set<String> = []) -> String? {
        let meanRate = self.meanRate
        let standings = self.brokers.filter { !excluding.contains($0.broker) }.map { report in
            let extra = pending[report.broker] ?? 0
            let load = Self.load(of: report, meanRate: meanRate) + Double(extra)
            return Standing(broker: report.broker, load: load, bundles: report.bundles.count + extra)
        }
        return standings.min(by: Standing.isLighter)?.broker
    }

    /// The bundles to move now. Each broker whose load is above `average * (1 +
    /// threshold)` and that owns at least 2 bundles, most loaded first, gives at most one
    /// bundle to the least-loaded other broker (loads updated by the moves planned before
    /// it). The bundle is, among those not moved within `coolDown` before `now` (per
    /// `lastMoved`) nor already in the plan, the one whose move leaves the source closest
    /// to the average (ties: smallest name), provided the destination's load plus its
    /// weight stays strictly below the source's load. Empty with fewer than 2 brokers.
    func sheddingPlan(now: ContinuousClock.Instant, lastMoved: [String: ContinuousClock.Instant], coolDown: Duration) -> [Move] {
        guard self.brokers.count >= 2 else { return [] }
        let meanRate = self.meanRate
        var weights: [String: Double] = [:]
        var owned: [String: [String]] = [:]
        var standings: [String: Standing] = [:]
        var total = 0.0
        for report in self.brokers {
            owned[report.broker] = report.bundles.keys.sorted()
            for (bundle, bundleLoad) in report.bundles where weights[bundle] == nil {
                weights[bundle] = Self.weight(of: bundleLoad, meanRate: meanRate)
            }
            let load = Self.load(of: report, meanRate: meanRate)
            total += load
            standings[report.broker] = Standing(broker: report.broker, load: load, bundles: report.bundles.count)
        }
        let average = total / Double(self.brokers.count)
        let limit = average * (1 + self.threshold)
        let cooledBefore = now - coolDown
        let sources = standings.values.filter { $0.load > limit && $0.bundles >= 2 }
            .sorted { $0.load != $1.load ? $0.load > $1.load : $0.broker < $1.broker }
            .map(\.broker)

        var moves: [Move] = []
        var planned: Set<String> = []
        for source in sources {
            guard let from = standings[source], from.load > limit, from.bundles >= 2,
                let to = standings.values.filter({ $0.broker != source }).min(by: Standing.isLighter)
            else { continue }
            var best: (bundle: String, weight: Double, distance: Double)?
            for bundle in owned[source] ?? [] where !planned.contains(bundle) {
                if let moved = lastMoved[bundle], moved > cooledBefore { continue }
                let weight = weights[bundle] ?? 1
                guard to.load + weight < from.load else { continue }
                let distance = abs(from.load - weight - average)
                if let chosen = best, chosen.distance <= distance { continue }
                best = (bundle, weight, distance)
            }
            guard let best else { continue }
            moves.append(Move(bundle: best.bundle, from: source, to: to.broker))
            planned.insert(best.bundle)
            owned[source]?.removeAll { $0 == best.bundle }
            owned[to.broker, default: []].append(best.bundle)
            standings[source] = Standing(broker: source, load: from.load - best.weight, bundles: from.bundles - 1)
            standings[to.broker] = Standing(broker: to.broker, load: to.load + best.weight, bundles: to.bundles + 1)
        }
        return moves
    }

    /// The mean message rate of the cluster's bundles; 0 when there are none. The rates
    /// are added in increasing order so the same reports always give the same mean.
    private var meanRate: Double {
        let rates = self.brokers.flatMap { $0.bundles.values.map(\.messageRate) }.sorted()
        return rates.isEmpty ? 0 : rates.reduce(0, +) / Double(rates.count)
    }

    private static func weight(of load: BundleLoad, meanRate: Double) -> Double {
        meanRate > 0 ? 1 + load.messageRate / meanRate : 1
    }

    /// The sum of the weights of a report's bundles, added in name order so the same
    /// report always sums to the same value.
    private static func load(of report: BrokerLoad, meanRate: Double) -> Double {
        report.bundles.sorted { $0.key < $1.key }.reduce(0) { $0 + Self.weight(of: $1.value, meanRate: meanRate) }
    }

    /// A broker's load and bundle count while a decision is made.
    private struct Standing {
        var broker: String
        var load: Double
        var bundles: Int

        /// Whether `left` should be chosen over `right` as a destination.
        static func isLighter(_ left: Standing, _ right: Standing) -> Bool {
            if left.load != right.load { return left.load < right.load }
            if left.bundles != right.bundles { return left.bundles < right.bundles }
            return left.broker < right.broker
        }
    }
}
