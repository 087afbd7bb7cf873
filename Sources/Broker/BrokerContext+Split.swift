import Foundation
import Logging
import Metadata

extension BrokerContext {
    /// Splits a bundle this broker owns into its two halves, which it then owns (and, with
    /// `unload`, unloads so that the leader may place them elsewhere).
    ///
    /// The namespace's new layout is written first (compare-and-set of its policies), then
    /// the halves' keys are created while the parent's is still held, then the parent's is
    /// deleted. A broker that claims a half meanwhile, or the parent with an old layout,
    /// finds the overlapping key and gives its claim back (see ``claim(_:as:splitting:)``),
    /// so no hash is ever served by two brokers. The topics of the bundle stay loaded.
    func splitBundle(_ bundle: Bundle, unload: Bool) async throws {
        guard let me = self.membership.identity, self.membership.serves(bundle), let parentVersion = self.membership.ownership.version(of: bundle) else {
            throw BrokerError(.serviceNotReady, "\(bundle) is not served by this broker")
        }
        guard let (low, high) = bundle.range.halves() else { throw BrokerError(.notAllowed, "\(bundle) is too small to split") }
        try await self.writeLayout(splitting: bundle)
        var children: [(BundleRange, Int64)] = []
        for range in [low, high] {
            let child = Bundle(tenant: bundle.tenant, namespace: bundle.namespace, range: range)
            var claimed: Int64?
            // A broker that claimed the half with the new layout gives it back at once.
            for _ in 0..<50 where claimed == nil {
                claimed = try await self.claim(child, as: me, splitting: bundle)
                if claimed == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            guard let claimed else {
                for (range, version) in children {
                    try? await self.metadata.delete(Bundle(tenant: bundle.tenant, namespace: bundle.namespace, range: range).key, expecting: .version(version))
                }
                // The layout is split already: the parent is let go, so that the halves are
                // placed afresh.
                await self.unloadBundle(bundle)
                throw BrokerError(.serviceNotReady, "could not take \(child) while splitting \(bundle); the bundle was unloaded instead")
            }
            children.append((range, claimed))
        }
        self.membership.ownership.split(bundle, into: children)
        try? await self.metadata.delete(bundle.key, expecting: .version(parentVersion))
        self.logger.info("split bundle", metadata: ["bundle": "\(bundle)", "into": "\(low.name), \(high.name)"])
        if unload {
            for (range, _) in children { await self.unloadBundle(Bundle(tenant: bundle.tenant, namespace: bundle.namespace, range: range)) }
        }
    }

    /// Writes the namespace's layout with `bundle` split in two, by compare-and-set.
    private func writeLayout(splitting bundle: Bundle) async throws {
        _ = try await self.bundleLayout(tenant: bundle.tenant, namespace: bundle.namespace)
        let key = Self.policiesKey(tenant: bundle.tenant, namespace: bundle.namespace)
        while true {
            guard let stored = try await self.metadata.get(key) else {
                throw BrokerError(.notAllowed, "namespace \(bundle.tenant)/\(bundle.namespace) does not exist")
            }
            var policies = try NamespacePolicies.decoded(stored.value, key: key)
            let layout = try (policies.bundles ?? NamespaceBundles(count: self.membership.defaultBundles)).splitting(bundle.range)
            policies.bundles = layout
            do {
                _ = try await self.metadata.put(key, value: try policies.encoded(), expecting: .version(stored.version))
                return
            } catch let error as MetadataError where error.code == .badVersion {
                continue
            }
        }
    }
}
