@testable import Broker
import Testing

@Suite("Lookup decisions")
struct LookupDecisionTests {
    static let me = BrokerAddress(brokerId: "h:1", pulsarURL: "pulsar://h:11", httpURL: "http://h:1")
    static let other = BrokerAddress(brokerId: "h:2", pulsarURL: "pulsar://h:12", httpURL: "http://h:2")
    static let third = BrokerAddress(brokerId: "h:3", pulsarURL: "pulsar://h:13", httpURL: "http://h:3")

    static func owner(_ broker: BrokerAddress, disabled: Bool = false) -> BundleOwnerValue {
        BundleOwnerValue(nativeUrl: broker.pulsarURL, httpUrl: broker.httpURL, disabled: disabled, brokerId: broker.brokerId)
    }

    static func decide(
        owner: BundleOwnerValue? = nil, servedHere: Bool = false, authoritative: Bool = false, leader: BrokerAddress? = nil,
        candidate: BrokerAddress? = nil
    ) -> LookupDecision {
        LookupDecision.decide(owner: owner, servedHere: servedHere, me: Self.me.brokerId, authoritative: authoritative, leader: leader, candidate: candidate)
    }

    @Test func theOwnerIsConnectedTo() {
        #expect(Self.decide(servedHere: true, leader: Self.other) == .connectHere)
        #expect(Self.decide(owner: Self.owner(Self.other), leader: Self.me) == .connect(Self.other))
        #expect(Self.decide(owner: Self.owner(Self.other), authoritative: true) == .connect(Self.other))
    }

    @Test func aBundleBeingUnloadedOrLeftByAnEndedSessionIsRetried() {
        #expect(Self.decide(owner: Self.owner(Self.other, disabled: true)) == .retry(reason: "the bundle is being unloaded"))
        guard case .retry = Self.decide(owner: Self.owner(Self.me), leader: Self.me) else {
            Issue.record("a key of this broker that it does not hold must be retried")
            return
        }
    }

    @Test func anUnownedBundleIsPlacedByTheLeader() {
        // Asked with authority (the leader chose this broker): take it.
        #expect(Self.decide(authoritative: true, leader: Self.other) == .acquire)
        // Another broker leads: ask it.
        #expect(Self.decide(leader: Self.other) == .redirect(to: Self.other, authoritative: false))
        // This broker leads: take it, or send the client to the chosen broker with authority.
        #expect(Self.decide(leader: Self.me, candidate: Self.me) == .acquire)
        #expect(Self.decide(leader: Self.me, candidate: Self.third) == .redirect(to: Self.third, authoritative: true))
        guard case .retry = Self.decide(leader: Self.me, candidate: nil), case .retry = Self.decide(leader: nil) else {
            Issue.record("no leader, or no broker to choose, must be retried")
            return
        }
    }

    @Test func onlyTheLeaderWithAnUnownedBundleNeedsAPlacement() {
        #expect(LookupDecision.needsCandidate(owner: nil, servedHere: false, authoritative: false, isLeader: true))
        #expect(!LookupDecision.needsCandidate(owner: nil, servedHere: false, authoritative: false, isLeader: false))
        #expect(!LookupDecision.needsCandidate(owner: nil, servedHere: false, authoritative: true, isLeader: true))
        #expect(!LookupDecision.needsCandidate(owner: Self.owner(Self.other), servedHere: false, authoritative: false, isLeader: true))
        #expect(!LookupDecision.needsCandidate(owner: nil, servedHere: true, authoritative: false, isLeader: true))
    }

    @Test func splitsAreAskedOfBundlesOverEitherLimit() {
        let placement = LoadPlacement(brokers: [
            BrokerLoad(broker: "a", bundles: ["t/n/1": BundleLoad(topics: 5), "t/n/2": BundleLoad(msgRateIn: 900, msgRateOut: 200, topics: 1)]),
            BrokerLoad(broker: "b", bundles: ["t/n/3": BundleLoad(msgRateIn: 10, topics: 2)]),
        ])
        #expect(placement.bundlesToSplit(maxTopics: 4, maxMessageRate: 1000) == [.init(bundle: "t/n/1", owner: "a"), .init(bundle: "t/n/2", owner: "a")])
        #expect(placement.bundlesToSplit(maxTopics: nil, maxMessageRate: 1000) == [.init(bundle: "t/n/2", owner: "a")])
        #expect(placement.bundlesToSplit(maxTopics: 1, maxMessageRate: nil).map(\.bundle) == ["t/n/1", "t/n/3"])
        #expect(placement.bundlesToSplit(maxTopics: nil, maxMessageRate: nil).isEmpty)
    }
}
