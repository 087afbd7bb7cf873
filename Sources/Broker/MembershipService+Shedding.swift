import Foundation
import Logging
import MagnetarHTTP
import MagnetarHTTPClient
import Metadata

extension MembershipService {
    /// While this broker leads, moves bundles off brokers well above the average load,
    /// every `interval` (see ``LoadPlacement/sheddingPlan(now:lastMoved:coolDown:)``): the
    /// owner unloads the bundle and the leader places it where the plan said.
    func shedLoad(every interval: Duration) async throws {
        var lastMoved: [String: ContinuousClock.Instant] = [:]
        while true {
            try await Task.sleep(for: interval)
            guard self.context.membership.isLeader else { continue }
            let registrations: [BrokerRegistration]
            do {
                registrations = try await self.context.registrations()
            } catch {
                continue
            }
            let now = ContinuousClock.now
            lastMoved = lastMoved.filter { now - $0.value < self.configuration.coolDown }
            let placement = LoadPlacement(
                brokers: registrations.map { BrokerLoad(broker: $0.brokerId, bundles: $0.load.bundles) }, threshold: self.configuration.threshold
            )
            for split in placement.bundlesToSplit(maxTopics: self.configuration.splitTopics, maxMessageRate: self.configuration.splitMessageRate)
            where lastMoved[split.bundle] == nil {
                guard let owner = registrations.first(where: { $0.brokerId == split.owner }), let parts = Bundle(name: split.bundle),
                    let layout = try? await self.context.bundleLayout(tenant: parts.tenant, namespace: parts.namespace),
                    layout.count < self.configuration.maxBundles
                else { continue }
                lastMoved[split.bundle] = now
                self.context.logger.info("splitting a hot bundle", metadata: ["bundle": "\(split.bundle)", "owner": "\(split.owner)"])
                await self.context.requestSplit(bundleNamed: split.bundle, at: owner.address)
            }
            for move in placement.sheddingPlan(now: now, lastMoved: lastMoved, coolDown: self.configuration.coolDown) {
                guard let owner = registrations.first(where: { $0.brokerId == move.from }) else { continue }
                lastMoved[move.bundle] = now
                self.context.membership.setDestination(move.bundle, move.to)
                self.context.logger.info("shedding a bundle", metadata: ["bundle": "\(move.bundle)", "from": "\(move.from)", "to": "\(move.to)"])
                await self.context.requestUnload(bundleNamed: move.bundle, at: owner.address)
            }
        }
    }
}

extension BrokerContext {
    /// Has the broker at `owner` unload the bundle `name` (`tenant/namespace/range`): here
    /// when it is this broker, else through its REST API.
    func requestUnload(bundleNamed name: String, at owner: BrokerAddress) async {
        guard let bundle = Bundle(name: name) else { return }
        if owner.brokerId == self.membership.identity?.brokerId {
            await self.unloadBundle(bundle)
        } else {
            await self.put("\(owner.httpURL)/admin/v2/namespaces/\(bundle.tenant)/\(bundle.namespace)/\(bundle.range.name)/unload")
        }
    }

    /// Has the broker at `owner` split the bundle `name` in two, keeping both halves.
    func requestSplit(bundleNamed name: String, at owner: BrokerAddress) async {
        guard let bundle = Bundle(name: name) else { return }
        if owner.brokerId == self.membership.identity?.brokerId {
            do {
                try await self.splitBundle(bundle, unload: false)
            } catch {
                self.logger.warning("a bundle split failed", metadata: ["bundle": "\(bundle)", "error": "\(error)"])
            }
        } else {
            await self.put("\(owner.httpURL)/admin/v2/namespaces/\(bundle.tenant)/\(bundle.namespace)/\(bundle.range.name)/split?unload=false")
        }
    }

    /// A PUT to another broker's REST API; failures are logged.
    private func put(_ url: String) async {
        do {
            let response = try await HTTPClient.request("PUT", url)
            if response.status >= 300 {
                self.logger.warning("a broker refused a request", metadata: ["url": "\(url)", "status": "\(response.status)"])
            }
        } catch {
            self.logger.warning("a request to a broker failed", metadata: ["url": "\(url)", "error": "\(error)"])
        }
    }
}
