@testable import Broker
import Codec
import Ledger
import Logging
import ManagedLedger
import Metadata
import PulsarWire
import Testing

/// Brokers joining a cluster in process, over one in-memory metadata store: the lease,
/// leader election, placement through lookups and redirects, and the loss of a session.
@Suite("Broker membership, in process", .timeLimit(.minutes(1)))
struct BrokerMembershipTests {
    static func broker(_ index: Int, _ metadata: MemoryMetadataStore, ttl: Duration = .seconds(1)) -> (BrokerContext, MembershipService) {
        let context = BrokerContext(
            name: "b\(index)", serviceURL: "pulsar://127.0.0.1:\(6650 + index)", maxMessageSize: 5 << 20,
            metadata: metadata, clients: [LedgerClient(metadata: metadata)], ledgerConfiguration: ManagedLedgerConfiguration(),
            defaultCompression: .none, sessionTTL: ttl, logger: Logger(label: "b\(index)")
        )
        let service = MembershipService(
            context: context, configuration: .init(reportInterval: .milliseconds(200), sheddingInterval: nil), advertisedHost: "127.0.0.1",
            cluster: "standalone", httpPort: { 8080 + index }
        )
        return (context, service)
    }

    /// A memory store holding the public/default namespace, as every broker makes it when
    /// it starts: topics exist only in namespaces that do.
    static func store() async throws -> MemoryMetadataStore {
        let metadata = MemoryMetadataStore()
        try await Self.broker(99, metadata).0.createDefaultNamespace()
        return metadata
    }

    /// Looks `topic` up as a client would: following redirects, retrying "retry".
    static func lookUp(_ topic: String, from first: Int, in brokers: [BrokerContext]) async throws -> BrokerAddress {
        let name = try TopicName(topic)
        var (index, authoritative) = (first, false)
        for _ in 0..<50 {
            do {
                switch try await brokers[index].lookup(name, authoritative: authoritative) {
                case .connect(let broker):
                    return broker
                case .redirect(let broker, let flag):
                    index = try #require(brokers.firstIndex { $0.membership.identity == broker })
                    authoritative = flag
                }
            } catch let error as BrokerError where error.code == .serviceNotReady {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw BrokerError(.unknown, "the lookup of \(topic) did not settle")
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw BrokerError(.unknown, "timed out") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func theLeaseEndsWithoutKeepAlivesAndWhenInvalidated() async throws {
        let metadata = try await Self.store()
        let session = BrokerSession(metadata: metadata, ttl: .milliseconds(1500))
        #expect(!session.isValid())
        let (_, generation) = try await session.open()
        #expect(session.isValid() && session.current()?.generation == generation)
        #expect(!session.isValid(at: .now + .milliseconds(1500)))
        // Kept alive, it runs on; the store ending the session ends the keep-alives.
        let keeping = Task { try await session.keepAlive(generation: generation) }
        try await Task.sleep(for: .milliseconds(2250))
        #expect(session.isValid())
        try await metadata.closeSession(try #require(session.current()).session)
        await #expect(throws: MetadataError.self) { try await keeping.value }
        session.invalidate()
        #expect(!session.isValid() && session.current() == nil)
    }

    @Test func oneLeaderAndOneOwnerPerBundle() async throws {
        let metadata = try await Self.store()
        let (brokers, services) = (0..<3).map { Self.broker($0, metadata) }.reduce(into: ([BrokerContext](), [MembershipService]())) {
            $0.0.append($1.0)
            $0.1.append($1.1)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            try await Self.waitUntil { brokers.allSatisfy { $0.membership.identity != nil && $0.membership.leader != nil } }
            #expect(brokers.filter(\.membership.isLeader).count == 1)
            #expect(Set(brokers.compactMap(\.membership.leader?.brokerId)).count == 1)
            // Each topic, looked up from each broker, lands on one owner.
            for topic in (0..<30).map({ "persistent://public/default/t-\($0)" }) {
                var owners: Set<String> = []
                for first in brokers.indices { owners.insert(try await Self.lookUp(topic, from: first, in: brokers).brokerId) }
                #expect(owners.count == 1, "\(topic): \(owners)")
            }
            let owned = brokers.map { Set($0.membership.ownership.owned()) }
            #expect(owned.map(\.count).reduce(0, +) == 4, "\(owned)")
            #expect(owned.filter { !$0.isEmpty }.count >= 2, "the leader placed every bundle on one broker: \(owned)")
            group.cancelAll()
        }
    }

    @Test func aBrokerWhoseSessionEndsStopsServingAtOnceAndJoinsAgain() async throws {
        let metadata = try await Self.store()
        let (broker, service) = Self.broker(0, metadata)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await Self.waitUntil { broker.membership.isLeader }
            let topic = try TopicName("persistent://public/default/lost")
            _ = try await Self.lookUp(topic.description, from: 0, in: [broker])
            let hash = NamespaceBundles.hash(topic.description)
            #expect(broker.membership.serves(topic, hash: hash))
            let ended = try #require(broker.membership.session.current()).session
            try await metadata.closeSession(ended)
            // Within a keep-alive interval (a third of the TTL) it notices and stops serving.
            try await Self.waitUntil { !broker.membership.serves(topic, hash: hash) }
            #expect(broker.membership.ownership.owned().isEmpty)
            // It joins again in a new session and can own the bundle again.
            try await Self.waitUntil { broker.membership.session.current().map { $0.session != ended } ?? false }
            _ = try await Self.lookUp(topic.description, from: 0, in: [broker])
            #expect(broker.membership.serves(topic, hash: hash))
            group.cancelAll()
        }
        // Stopped, it closed its session: its keys are gone.
        #expect(try await metadata.children(of: ClusterLayout.availableBrokers).isEmpty)
    }
}

extension BrokerMembershipTests {
    /// A bundle unloaded by one broker and taken at once by another: the second must not
    /// mistake the first one's delete, which its watch delivers after its own claim, for
    /// the loss of its key.
    @Test func aBundleTakenRightAfterItsUnloadStaysWithItsNewOwner() async throws {
        let metadata = try await Self.store()
        let (first, firstService) = Self.broker(0, metadata)
        let (second, secondService) = Self.broker(1, metadata)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await firstService.run() }
            group.addTask { try await secondService.run() }
            try await Self.waitUntil { [first, second].allSatisfy { $0.membership.identity != nil && $0.membership.leader != nil } }
            for round in 0..<20 {
                let topic = try TopicName("persistent://public/default/taken-\(round)")
                let (from, to) = try await Self.lookUp(topic.description, from: 0, in: [first, second]).brokerId == first.membership.identity?.brokerId
                    ? (first, second) : (second, first)
                let bundle = try await from.bundle(of: topic)
                #expect(await from.unloadBundle(bundle))
                #expect(try await to.acquire(bundle, as: try #require(to.membership.identity)))
                try await Task.sleep(for: .milliseconds(50))
                #expect(to.membership.serves(bundle), "round \(round): the new owner dropped \(bundle) on the old owner's delete")
            }
            group.cancelAll()
        }
    }
}

extension BrokerMembershipTests {
    /// Many clients look up topics of one unowned bundle at once (a producer and its
    /// consumers starting together): every lookup is answered, none is told to retry
    /// because another one's claim of the bundle is half-way.
    @Test func concurrentLookupsOfAnUnownedBundleAreAllAnswered() async throws {
        let metadata = try await Self.store()
        let (broker, service) = Self.broker(0, metadata)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            try await Self.waitUntil { broker.membership.isLeader }
            for round in 0..<30 {
                let name = try TopicName("persistent://public/default/together-\(round)")
                let bundle = try await broker.bundle(of: name)
                try await withThrowingTaskGroup(of: Void.self) { lookups in
                    for _ in 0..<8 {
                        lookups.addTask {
                            guard case .connect = try await broker.lookup(name, authoritative: false) else {
                                throw BrokerError(.unknown, "a redirect from the only broker")
                            }
                        }
                    }
                    try await lookups.waitForAll()
                }
                await broker.unloadBundle(bundle)
            }
            group.cancelAll()
        }
    }
}

extension BrokerMembershipTests {
    /// Lookups of one unowned bundle that reach the leader together (a producer and a
    /// consumer reconnecting after an unload) are all sent to the same broker: the one
    /// the transfer asked for, or the one the first was sent to.
    @Test func aBundleIsPlacedOnOneBrokerHoweverManyLookupsRaceForIt() async throws {
        let metadata = try await Self.store()
        let members = (0..<3).map { Self.broker($0, metadata) }
        let brokers = members.map(\.0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (_, service) in members { group.addTask { try await service.run() } }
            try await Self.waitUntil { brokers.allSatisfy { $0.membership.identity != nil } && brokers.contains(where: \.membership.isLeader) }
            try await Self.waitUntil { brokers.allSatisfy { $0.membership.leader != nil } }
            try await Task.sleep(for: .milliseconds(300))  // every broker has reported
            let leaders = brokers.filter(\.membership.isLeader)
            #expect(leaders.count == 1)
            let leader = leaders[0]
            for round in 0..<4 {
                let bundle = Bundle(tenant: "public", namespace: "race", range: NamespaceBundles(count: 4).ranges[round])
                let first = try await leader.place(bundle)
                let second = try await leader.place(bundle)
                #expect(first != nil && first == second, "round \(round): \(String(describing: first)) then \(String(describing: second))")
            }
            // A transfer's destination wins over the last placement, once.
            let bundle = Bundle(tenant: "public", namespace: "race", range: NamespaceBundles(count: 4).ranges[0])
            let placed = try #require(try await leader.place(bundle))
            let other = try #require(brokers.compactMap(\.membership.identity).first { $0 != placed })
            leader.membership.setDestination(bundle.description, other.brokerId)
            #expect(try await leader.place(bundle) == other)
            group.cancelAll()
        }
    }
}
