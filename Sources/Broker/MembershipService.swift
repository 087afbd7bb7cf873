import Foundation
import Logging
import Metadata
import ServiceLifecycle
import Synchronization

/// Keeps the broker a member of its cluster, as a `Service`: it opens the metadata
/// session, registers `/brokers/available/<id>` with a load report refreshed every
/// ``Configuration/reportInterval``, competes for `/brokers/leader`, watches the keys of
/// the bundles it owns, and, while it leads, sheds load.
///
/// When the session ends (the store expired it, or the lease ran out because the broker
/// was paused or cut off), the broker stops serving every bundle at once
/// (``BrokerContext/loseOwnership()``) and joins again in a new session. On graceful
/// shutdown, after the topic manager has closed every topic, the session is closed, which
/// deletes the broker's keys so that its bundles are placed elsewhere at once.
final class MembershipService: Service, Sendable {
    struct Configuration: Sendable {
        /// How often the load report is written (default 5 s).
        var reportInterval: Duration = .seconds(5)
        /// How often the leader looks for bundles to shed (default 15 s; nil: never).
        var sheddingInterval: Duration? = .seconds(15)
        /// How long a moved bundle stays where it went (default 60 s).
        var coolDown: Duration = .seconds(60)
        /// A broker is overloaded above the average load times 1 + this (default 0.25).
        var threshold: Double = 0.25
        /// A bundle with more topics than this is split (default 1000, as Pulsar; nil: never).
        var splitTopics: Int? = 1000
        /// A bundle carrying more messages per second in and out is split (default 30 000,
        /// as Pulsar; nil: never).
        var splitMessageRate: Double? = 30_000
        /// No namespace is split into more bundles than this (default 128, as Pulsar).
        var maxBundles = 128
    }

    let context: BrokerContext
    let configuration: Configuration
    /// The host clients are told to connect to.
    let advertisedHost: String
    let cluster: String
    /// The REST port, once bound.
    let httpPort: @Sendable () async throws -> Int

    init(
        context: BrokerContext, configuration: Configuration, advertisedHost: String, cluster: String,
        httpPort: @escaping @Sendable () async throws -> Int
    ) {
        self.context = context
        self.configuration = configuration
        self.advertisedHost = advertisedHost
        self.cluster = cluster
        self.httpPort = httpPort
    }

    func run() async throws {
        let port = try await self.httpPort()
        let me = BrokerAddress(brokerId: "\(self.advertisedHost):\(port)", pulsarURL: self.context.serviceURL, httpURL: "http://\(self.advertisedHost):\(port)")
        await cancelWhenGracefulShutdown { await self.serve(as: me) }
        await self.context.membership.session.close()
    }

    /// Joins, and joins again each time the session ends, until cancelled.
    private func serve(as me: BrokerAddress) async {
        var delay = Duration.milliseconds(100)
        let meter = LoadMeter()
        while !Task.isCancelled {
            do {
                let generation = try await self.join(as: me, meter: meter)
                delay = .milliseconds(100)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.context.membership.session.keepAlive(generation: generation) }
                    group.addTask { try await self.campaign(as: me) }
                    group.addTask { try await self.watchBundles(as: me) }
                    group.addTask { try await self.reportLoad(as: me, meter: meter) }
                    if let interval = self.configuration.sheddingInterval {
                        group.addTask { try await self.shedLoad(every: interval) }
                    }
                    // Only the keep-alives end (when the session is lost); the rest run until cancelled.
                    defer { group.cancelAll() }
                    try await group.next()
                    throw MetadataError(.sessionExpired, "the broker's session work ended")
                }
            } catch {
                if Task.isCancelled { return }
                self.context.logger.warning("the broker's metadata session ended", metadata: ["error": "\(error)"])
            }
            await self.context.loseOwnership()
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    /// Opens a session and registers the broker in it; returns the session's number.
    private func join(as me: BrokerAddress, meter: LoadMeter) async throws -> Int {
        let (session, generation) = try await self.context.membership.session.open()
        self.context.membership.identity = me
        let report = await meter.report(
            self.context.topics.loaded(), owned: self.context.membership.ownership.owned(),
            connections: self.context.openConnections.load(ordering: .relaxed)
        )
        try await self.context.metadata.put(ClusterLayout.availableBroker(me.brokerId), value: try self.registration(me, report).encoded(), session: session)
        if generation == 1 {
            try await self.context.registerCluster(serviceURL: me.pulsarURL, httpURL: me.httpURL)
            self.context.logger.info("broker serving", metadata: ["service": "\(me.pulsarURL)", "http": "\(me.httpURL)", "broker": "\(me.brokerId)"])
        } else {
            self.context.logger.info("broker registered again", metadata: ["broker": "\(me.brokerId)", "session": "\(session.id)"])
        }
        return generation
    }

    private func registration(_ me: BrokerAddress, _ report: BrokerLoadReport) -> BrokerRegistration {
        BrokerRegistration(brokerId: me.brokerId, pulsarServiceUrl: me.pulsarURL, webServiceUrl: me.httpURL, cluster: self.cluster, load: report)
    }

    /// Writes the load report every interval. A failed write is logged and tried again
    /// at the next interval: only the session's keep-alives decide ownership.
    private func reportLoad(as me: BrokerAddress, meter: LoadMeter) async throws {
        while true {
            try await Task.sleep(for: self.configuration.reportInterval)
            guard let (session, _) = self.context.membership.session.current() else { continue }
            let report = await meter.report(
                self.context.topics.loaded(), owned: self.context.membership.ownership.owned(),
                connections: self.context.openConnections.load(ordering: .relaxed)
            )
            do {
                try await self.context.metadata.put(ClusterLayout.availableBroker(me.brokerId), value: try self.registration(me, report).encoded(), session: session)
            } catch {
                self.context.logger.warning("could not write the load report", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs `body` again whenever it fails (a watch the store ended, the store out of
    /// reach), after a pause, until cancelled.
    private func keepWatching(_ what: String, _ body: () async throws -> Void) async throws {
        while true {
            do {
                try await body()
            } catch {
                try Task.checkCancellation()
                self.context.logger.warning("watching again", metadata: ["watch": "\(what)", "error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Competes for `/brokers/leader` whenever it is free, and follows who holds it.
    private func campaign(as me: BrokerAddress) async throws {
        let key = ClusterLayout.leaderBroker
        try await self.keepWatching(key) {
            let watch = try await self.context.metadata.watch(.key(key))
            try await self.tryToLead(as: me)
            for try await event in watch {
                switch event.kind {
                case .delete:
                    self.context.membership.leader = nil
                    try await self.tryToLead(as: me)
                case .put:
                    self.context.membership.leader = try? JSONDecoder().decode(LeaderValue.self, from: Data(event.value))
                }
            }
        }
    }

    private func tryToLead(as me: BrokerAddress) async throws {
        guard let (session, _) = self.context.membership.session.current() else { return }
        let key = ClusterLayout.leaderBroker
        let value = LeaderValue(brokerId: me.brokerId, serviceUrl: me.httpURL, pulsarServiceUrl: me.pulsarURL)
        do {
            try await self.context.metadata.put(key, value: Array(try JSONEncoder().encode(value)), expecting: .absent, session: session)
            self.context.membership.leader = value
            self.context.logger.info("this broker leads the cluster", metadata: ["broker": "\(me.brokerId)"])
        } catch let error as MetadataError where error.code == .alreadyExists {
            let stored = try await self.context.metadata.get(key)
            self.context.membership.leader = stored.flatMap { try? JSONDecoder().decode(LeaderValue.self, from: Data($0.value)) }
        }
    }

    /// Stops serving an owned bundle whose key is deleted or taken by someone else. Each
    /// time the watch starts, the keys of the owned bundles are checked, so that a change
    /// between two watches is not missed.
    private func watchBundles(as me: BrokerAddress) async throws {
        try await self.keepWatching(ClusterLayout.bundleOwners) {
            let watch = try await self.context.metadata.watch(.prefix(ClusterLayout.bundleOwners))
            for bundle in self.context.membership.ownership.owned() where self.context.membership.ownership.holds(bundle) {
                let stored = try await self.context.metadata.get(bundle.key)
                if stored?.version != self.context.membership.ownership.version(of: bundle), self.context.membership.ownership.holds(bundle) {
                    await self.context.loseOwnership(of: bundle)
                }
            }
            for try await event in watch {
                guard let bundle = self.context.membership.ownership.bundle(withKey: event.key), self.context.membership.ownership.holds(bundle),
                    let version = self.context.membership.ownership.version(of: bundle), event.version > version
                else {
                    continue  // Not ours, ours being released, or a change from before this broker took the key.
                }
                let taken = event.kind == .put && (try? BundleOwnerValue.decoded(event.value))?.brokerId != me.brokerId
                if event.kind == .delete || taken { await self.context.loseOwnership(of: bundle) }
            }
        }
    }
}
