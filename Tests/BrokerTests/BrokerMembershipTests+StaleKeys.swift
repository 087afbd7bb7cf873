@testable import Broker
import Metadata
import PulsarWire
import Testing

extension BrokerMembershipTests {
    /// A bundle's key that names the broker but that the broker does not hold: one left by
    /// a session of the broker that ended but that the store has not expired yet, or one
    /// written in the current session by a claim whose answer was lost. Lookups must not
    /// be told to retry until the key goes; the broker deletes it and takes the bundle.
    @Test(arguments: [false, true])
    func aKeyNamingTheBrokerThatItDoesNotHoldIsTakenBack(inCurrentSession: Bool) async throws {
        let metadata = try await Self.store()
        let (broker, service) = Self.broker(0, metadata)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await Self.waitUntil { broker.membership.isLeader }
            let me = try #require(broker.membership.identity)
            let topic = try TopicName("persistent://public/default/stale-key")
            let bundle = try await broker.bundle(of: topic)
            // The old session outlives the test unless the broker deletes its key.
            let session = inCurrentSession ? try #require(broker.membership.session.current()).session : try await metadata.createSession(ttl: .seconds(60))
            let value = BundleOwnerValue(nativeUrl: me.pulsarURL, httpUrl: me.httpURL, disabled: false, brokerId: me.brokerId)
            let stale = try await metadata.put(bundle.key, value: try value.encoded(), expecting: .absent, session: session)
            #expect(!broker.membership.serves(bundle))

            #expect(try await Self.lookUp(topic.description, from: 0, in: [broker]) == me)
            #expect(broker.membership.serves(bundle))
            let owned = try #require(try await metadata.get(bundle.key))
            #expect(owned.version != stale && owned.session == broker.membership.session.current()?.session.id)
            #expect(owned.version == broker.membership.ownership.version(of: bundle))
            group.cancelAll()
        }
    }

    /// An unload whose final delete failed leaves the key, marked disabled, in the broker's
    /// session: the bundle must not be "being unloaded" for the rest of the session.
    @Test func aDisabledKeyLeftByAnUnloadIsTakenBack() async throws {
        let metadata = try await Self.store()
        let (broker, service) = Self.broker(0, metadata)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await Self.waitUntil { broker.membership.isLeader }
            let me = try #require(broker.membership.identity)
            let topic = try TopicName("persistent://public/default/left-disabled")
            let session = try #require(broker.membership.session.current()).session
            let bundle = try await broker.bundle(of: topic)
            let value = BundleOwnerValue(nativeUrl: me.pulsarURL, httpUrl: me.httpURL, disabled: true, brokerId: me.brokerId)
            _ = try await metadata.put(bundle.key, value: try value.encoded(), expecting: .absent, session: session)

            #expect(try await Self.lookUp(topic.description, from: 0, in: [broker]) == me)
            #expect(broker.membership.serves(bundle))
            group.cancelAll()
        }
    }

    /// A broker that joins again closes its previous session: the keys it held there go at
    /// once instead of when the store expires the session.
    @Test func aBrokerJoiningAgainClosesItsPreviousSession() async throws {
        let metadata = try await Self.store()
        let session = BrokerSession(metadata: metadata, ttl: .seconds(30))
        let (first, _) = try await session.open()
        _ = try await metadata.put("/stale/key", value: [1], expecting: .absent, session: first)
        session.invalidate()
        let (second, _) = try await session.open()
        #expect(second != first)
        #expect(try await metadata.get("/stale/key") == nil)
    }
}
