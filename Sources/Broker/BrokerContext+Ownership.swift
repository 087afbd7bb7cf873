import Foundation
import Logging
import Metadata

extension BrokerContext {
    /// The live brokers, from their registrations.
    func registrations() async throws -> [BrokerRegistration] {
        var registrations: [BrokerRegistration] = []
        for id in try await self.metadata.children(of: ClusterLayout.availableBrokers) {
            guard let stored = try await self.metadata.get(ClusterLayout.availableBroker(id)) else { continue }
            do {
                registrations.append(try BrokerRegistration.decoded(stored.value))
            } catch {
                self.logger.warning("skipping an unreadable broker registration", metadata: ["broker": "\(id)", "error": "\(error)"])
            }
        }
        return registrations
    }

    /// The leader's choice of broker for an unowned bundle: the one asked for by a
    /// transfer, or the one it was given moments ago, else the least loaded live broker
    /// (counting the bundles it was given since its last report).
    func place(_ bundle: Bundle) async throws -> BrokerAddress? {
        let registrations = try await self.registrations()
        let name = bundle.description
        // Asked for (a transfer), or just given (lookups racing the first one's placement).
        let wanted = self.membership.takeDestination(name) ?? self.membership.recentAssignment(of: name)
        if let wanted, let registration = registrations.first(where: { $0.brokerId == wanted }) {
            self.membership.noteAssignment(name, to: wanted)
            return registration.address
        }
        let reported = Set(registrations.flatMap(\.load.bundles.keys))
        let placement = LoadPlacement(brokers: registrations.map { BrokerLoad(broker: $0.brokerId, bundles: $0.load.bundles) })
        guard let chosen = placement.leastLoaded(pending: self.membership.pendingAssignments(reported: reported)),
            let registration = registrations.first(where: { $0.brokerId == chosen })
        else { return nil }
        self.membership.noteAssignment(name, to: chosen)
        return registration.address
    }

    /// Unloads a bundle this broker owns: lookups are told to retry while its topics
    /// close their ledgers cleanly (so the next owner opens them with no recovery); then
    /// its key is deleted and the bundle can be placed again. False when the bundle is not
    /// owned here.
    @discardableResult
    func unloadBundle(_ bundle: Bundle) async -> Bool {
        guard let version = self.membership.ownership.beginRelease(bundle) else { return false }
        self.logger.info("unloading bundle", metadata: ["bundle": "\(bundle)"])
        var current = version
        if let me = self.membership.identity, let (session, _) = self.membership.session.current() {
            let disabled = BundleOwnerValue(nativeUrl: me.pulsarURL, httpUrl: me.httpURL, disabled: true, brokerId: me.brokerId)
            if let encoded = try? disabled.encoded(),
                let written = try? await self.metadata.put(bundle.key, value: encoded, expecting: .version(version), session: session)
            {
                current = written
            }
        }
        await self.closeTopics(in: [bundle], .unloaded)
        do {
            try await self.metadata.delete(bundle.key, expecting: .version(current))
        } catch {
            self.logger.warning("could not delete the key of an unloaded bundle", metadata: ["bundle": "\(bundle)", "error": "\(error)"])
        }
        self.membership.ownership.remove(bundle)
        return true
    }

    /// Stops serving every bundle: the session ended or its lease ran out, so another
    /// broker may own them already. Their topics close at once, with no clean close of
    /// the ledgers left to finish before the clients move.
    func loseOwnership() async {
        self.membership.session.invalidate()
        let lost = self.membership.ownership.removeAll()
        if !lost.isEmpty { self.logger.warning("lost the ownership of every bundle", metadata: ["bundles": "\(lost.count)"]) }
        for topic in await self.topics.loaded() {
            await topic.close(.ownershipLost)
        }
        await self.closeNonPersistentTopics { _ in true }
    }

    /// Stops serving a bundle whose key was deleted or taken by someone else.
    func loseOwnership(of bundle: Bundle) async {
        guard let version = self.membership.ownership.version(of: bundle), self.membership.ownership.remove(bundle) else { return }
        // Should the key still be this broker's, it goes too, so that the bundle is placed again.
        try? await self.metadata.delete(bundle.key, expecting: .version(version))
        self.logger.warning("lost the ownership of a bundle: its key was deleted", metadata: ["bundle": "\(bundle)"])
        for topic in await self.topics.loaded() where bundle.contains(topic.name) {
            await topic.close(.ownershipLost)
        }
        await self.closeNonPersistentTopics { bundle.contains($0) }
    }

    /// Closes the loaded topics of `bundles` (non-persistent ones too) and waits for
    /// their ledgers to close.
    func closeTopics(in bundles: Set<Bundle>, _ reason: Topic.CloseReason) async {
        await self.closeNonPersistentTopics { name in bundles.contains { $0.contains(name) } }
        let topics = await self.topics.loaded().filter { topic in bundles.contains { $0.contains(topic.name) } }
        await withDiscardingTaskGroup { group in
            for topic in topics {
                group.addTask { await topic.closeAndWait(reason) }
            }
        }
    }
}
