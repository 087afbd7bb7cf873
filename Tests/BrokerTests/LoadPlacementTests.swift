@testable import Broker
import ClusterTesting
import Testing

@Suite("Load placement and shedding")
struct LoadPlacementTests {
    /// A broker reporting idle bundles of the given names.
    static func idle(_ broker: String, _ bundles: String...) -> BrokerLoad {
        BrokerLoad(broker: broker, bundles: Dictionary(uniqueKeysWithValues: bundles.map { ($0, BundleLoad()) }))
    }

    static let now = ContinuousClock.now

    static func plan(_ brokers: [BrokerLoad], lastMoved: [String: ContinuousClock.Instant] = [:]) -> [LoadPlacement.Move] {
        LoadPlacement(brokers: brokers).sheddingPlan(now: Self.now, lastMoved: lastMoved, coolDown: .seconds(60))
    }

    @Test func idleBundlesWeighOne() {
        let placement = LoadPlacement(brokers: [Self.idle("a", "t/n/1", "t/n/2"), Self.idle("b", "t/n/3")])
        #expect(placement.weight(of: "t/n/1") == 1)
        #expect(placement.weight(of: "t/n/3") == 1)
        #expect(placement.weight(of: "t/n/unknown") == 1)
        #expect(placement.load(of: "a") == 2)
        #expect(placement.load(of: "b") == 1)
        #expect(placement.load(of: "nobody") == 0)
        #expect(placement.load(of: "b", pending: ["b": 3, "a": 1]) == 4)
    }

    @Test func trafficAddsWeightRelativeToTheMeanBundle() {
        // Rates 30, 10 and 0+20: mean (30 + 10 + 20 + 0) / 4 = 15.
        let placement = LoadPlacement(brokers: [
            BrokerLoad(broker: "a", bundles: ["t/n/1": BundleLoad(msgRateIn: 30), "t/n/2": BundleLoad(msgRateOut: 10)]),
            BrokerLoad(broker: "b", bundles: ["t/n/3": BundleLoad(msgRateIn: 5, msgRateOut: 15), "t/n/4": BundleLoad(msgThroughputIn: 1e6)]),
        ])
        #expect(placement.weight(of: "t/n/1") == 3)
        #expect(placement.weight(of: "t/n/2") == 1 + 10.0 / 15)
        #expect(placement.weight(of: "t/n/3") == 1 + 20.0 / 15)
        #expect(placement.weight(of: "t/n/4") == 1, "throughput alone does not weigh")
        #expect(abs(placement.load(of: "a") - (4 + 10.0 / 15)) < 1e-9)
        #expect(abs(placement.load(of: "b") - (2 + 20.0 / 15)) < 1e-9)
    }

    @Test func leastLoadedCountsPendingAndBreaksTies() {
        let placement = LoadPlacement(brokers: [Self.idle("c", "t/n/1"), Self.idle("b", "t/n/2"), Self.idle("a", "t/n/3", "t/n/4")])
        #expect(placement.leastLoaded() == "b", "equal loads and counts: the smallest name")
        #expect(placement.leastLoaded(pending: ["b": 1]) == "c")
        #expect(placement.leastLoaded(pending: ["b": 1, "c": 2]) == "a", "a and b tie at 2 bundles; a is first by name")
        #expect(placement.leastLoaded(excluding: ["b"]) == "c")
        #expect(placement.leastLoaded(excluding: ["a", "b", "c"]) == nil)
        #expect(LoadPlacement(brokers: []).leastLoaded() == nil)
        #expect(LoadPlacement(brokers: [Self.idle("z")]).leastLoaded() == "z")
    }

    @Test func leastLoadedPrefersFewerBundlesAtEqualLoad() {
        // Rates 0, 0, 10 and 30: mean 10, so a weighs 1 + 1, b 2 and c 4.
        let placement = LoadPlacement(brokers: [
            Self.idle("a", "t/n/1", "t/n/2"),
            BrokerLoad(broker: "b", bundles: ["t/n/3": BundleLoad(msgRateIn: 10)]),
            BrokerLoad(broker: "c", bundles: ["t/n/4": BundleLoad(msgRateIn: 20, msgRateOut: 10)]),
        ])
        #expect(placement.weight(of: "t/n/3") == 2)
        #expect(placement.load(of: "a") == placement.load(of: "b"))
        #expect(placement.leastLoaded() == "b", "equal loads: the broker with fewer bundles")
        #expect(placement.leastLoaded(pending: ["b": 1]) == "a")
    }

    @Test func noMovesForABalancedEnoughIdleCluster() {
        // Loads 2, 1, 1: the first is overloaded (above 4/3 × 1.25) but moving a bundle
        // would only swap the imbalance.
        #expect(Self.plan([Self.idle("a", "t/n/1", "t/n/2"), Self.idle("b", "t/n/3"), Self.idle("c", "t/n/4")]).isEmpty)
    }

    @Test func anEmptyBrokerTakesOneBundle() {
        let moves = Self.plan([
            Self.idle("a", "t/n/1", "t/n/2"), Self.idle("b", "t/n/3"), Self.idle("c", "t/n/4"), Self.idle("d"),
        ])
        #expect(moves == [LoadPlacement.Move(bundle: "t/n/1", from: "a", to: "d")])
    }

    @Test func aHotBrokerShedsItsIdleBundle() {
        // Rates 90, 0, 0: mean 30, so the hot bundle weighs 4 and the others 1. Loads 5 and
        // 1 around an average of 3: moving the hot one would leave b at 5, not below a's 5;
        // moving the idle one leaves a at 4, b at 2.
        let brokers = [
            BrokerLoad(broker: "a", bundles: ["t/n/hot": BundleLoad(msgRateIn: 60, msgRateOut: 30), "t/n/idle": BundleLoad()]),
            Self.idle("b", "t/n/other"),
        ]
        #expect(LoadPlacement(brokers: brokers).weight(of: "t/n/hot") == 4)
        #expect(Self.plan(brokers) == [LoadPlacement.Move(bundle: "t/n/idle", from: "a", to: "b")])
    }

    @Test func aHotBundleMovesToAnEmptyBrokerWhenThatBalancesBest() {
        // Rates 100 and 0: the hot bundle weighs 3, the idle one 1. Loads 4, 0, 0 around
        // 4/3: moving the hot one leaves a at 1 (closer to 4/3 than the 3 left by the idle one).
        let brokers = [
            BrokerLoad(broker: "a", bundles: ["t/n/hot": BundleLoad(msgRateIn: 100), "t/n/idle": BundleLoad()]),
            Self.idle("c"), Self.idle("b"),
        ]
        #expect(Self.plan(brokers) == [LoadPlacement.Move(bundle: "t/n/hot", from: "a", to: "b")])
    }

    @Test func coolDownHoldsARecentlyMovedBundle() {
        let brokers = [Self.idle("a", "t/n/1", "t/n/2", "t/n/3"), Self.idle("b")]
        let moved = Self.now - .seconds(30)
        #expect(Self.plan(brokers) == [LoadPlacement.Move(bundle: "t/n/1", from: "a", to: "b")])
        #expect(Self.plan(brokers, lastMoved: ["t/n/1": moved]) == [LoadPlacement.Move(bundle: "t/n/2", from: "a", to: "b")])
        let all: [String: ContinuousClock.Instant] = ["t/n/1": moved, "t/n/2": moved, "t/n/3": moved]
        #expect(Self.plan(brokers, lastMoved: all).isEmpty)
        // Once the cool-down has passed, the bundles may move again.
        let placement = LoadPlacement(brokers: brokers)
        #expect(placement.sheddingPlan(now: Self.now + .seconds(29), lastMoved: all, coolDown: .seconds(60)).isEmpty)
        #expect(
            placement.sheddingPlan(now: Self.now + .seconds(31), lastMoved: all, coolDown: .seconds(60))
                == [LoadPlacement.Move(bundle: "t/n/1", from: "a", to: "b")]
        )
    }

    @Test func oneBrokerNeverSheds() {
        #expect(Self.plan([Self.idle("a", "t/n/1", "t/n/2", "t/n/3")]).isEmpty)
        #expect(Self.plan([]).isEmpty)
    }

    @Test func aBrokerWithOneBundleNeverSheds() {
        let brokers = [
            BrokerLoad(broker: "a", bundles: ["t/n/hot": BundleLoad(msgRateIn: 1000)]),
            Self.idle("b", "t/n/1"), Self.idle("c"),
        ]
        #expect(Self.plan(brokers).isEmpty)
    }

    @Test func eachOverloadedBrokerShedsOnceToTheLeastLoaded() {
        let moves = Self.plan([
            Self.idle("a", "t/n/a1", "t/n/a2", "t/n/a3", "t/n/a4"), Self.idle("b", "t/n/b1", "t/n/b2", "t/n/b3", "t/n/b4"),
            Self.idle("c"), Self.idle("d"),
        ])
        #expect(
            moves == [
                LoadPlacement.Move(bundle: "t/n/a1", from: "a", to: "c"),
                LoadPlacement.Move(bundle: "t/n/b1", from: "b", to: "d"),
            ]
        )
    }

    @Test func plansKeepTheirGuaranteesOnRandomClusters() {
        var generator = SplitMix64(seed: 7)
        for round in 0..<300 {
            let brokerCount = Int.random(in: 1...6, using: &generator)
            var bundle = 0
            let brokers = (0..<brokerCount).map { index in
                let bundles = (0..<Int.random(in: 0...8, using: &generator)).map { _ -> (String, BundleLoad) in
                    bundle += 1
                    let busy = Bool.random(using: &generator)
                    let rate = busy ? Double.random(in: 0...1000, using: &generator) : 0
                    return ("t/n/\(bundle)", BundleLoad(msgRateIn: rate, msgRateOut: rate / 2))
                }
                return BrokerLoad(broker: "broker-\(index)", bundles: Dictionary(uniqueKeysWithValues: bundles))
            }
            var lastMoved: [String: ContinuousClock.Instant] = [:]
            for number in 0..<bundle where Bool.random(using: &generator) {
                lastMoved["t/n/\(number + 1)"] = Self.now - .seconds(Int.random(in: 0...120, using: &generator))
            }
            let placement = LoadPlacement(brokers: brokers)
            let moves = placement.sheddingPlan(now: Self.now, lastMoved: lastMoved, coolDown: .seconds(60))
            Self.checkGuarantees(of: moves, placement: placement, lastMoved: lastMoved, round: round)
        }
    }

    /// Replays `moves` on the reports, checking each against the plan's promises.
    static func checkGuarantees(
        of moves: [LoadPlacement.Move],
        placement: LoadPlacement,
        lastMoved: [String: ContinuousClock.Instant],
        round: Int
    ) {
        let comment: Comment = "round \(round)"
        #expect(Set(moves.map(\.bundle)).count == moves.count, comment)
        #expect(Set(moves.map(\.from)).count == moves.count, comment)
        let loads = placement.brokers.map { placement.load(of: $0.broker) }
        let average = loads.reduce(0, +) / Double(max(loads.count, 1))
        let limit = average * (1 + placement.threshold)
        var current = placement
        for move in moves {
            let weight = placement.weight(of: move.bundle)
            let from = current.load(of: move.from)
            let to = current.load(of: move.to)
            // Loads are summed afresh here, so allow for rounding.
            let slack = 1e-9
            #expect(move.from != move.to, comment)
            #expect(from > limit - slack, comment)
            #expect(to <= limit + slack, "never to an overloaded broker; \(comment)")
            #expect(to + weight < from + slack, comment)
            if let moved = lastMoved[move.bundle] { #expect(moved <= Self.now - .seconds(60), comment) }
            let source = current.brokers.firstIndex { $0.broker == move.from }
            let destination = current.brokers.firstIndex { $0.broker == move.to }
            guard let source, let destination, let load = current.brokers[source].bundles.removeValue(forKey: move.bundle) else {
                Issue.record("\(move) names a bundle its source does not own; \(comment)")
                return
            }
            current.brokers[destination].bundles[move.bundle] = load
        }
    }
}
