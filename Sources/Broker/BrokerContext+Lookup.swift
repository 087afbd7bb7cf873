import Foundation
import Logging
import Metadata
import PulsarWire

extension BrokerContext {
    /// The answer to a lookup: the broker to connect to, or one to ask again.
    enum LookupAnswer: Hashable, Sendable {
        case connect(BrokerAddress)
        case redirect(BrokerAddress, authoritative: Bool)
    }

    /// Finds the broker serving `name`, placing its bundle when it has no owner (see
    /// ``LookupDecision``). Throws `serviceNotReady` when the client should retry.
    func lookup(_ name: TopicName, authoritative: Bool) async throws -> LookupAnswer {
        guard let me = self.membership.identity else { throw BrokerError(.serviceNotReady, "the broker is starting; retry") }
        let bundle = try await self.bundle(of: name)
        // A lost race for the key is decided again with the winner known.
        for _ in 0..<4 {
            // A claim of the bundle under way here (another client's lookup) settles first.
            await self.membership.claimUnderWay(bundle)
            let servedHere = self.membership.serves(bundle)
            let owner = servedHere ? nil : try await self.owner(of: bundle)
            if let owner, owner.brokerId == me.brokerId, !self.membership.ownership.listsOverlapping(bundle) {
                try await self.dropStaleKey(of: bundle, as: me)
                continue
            }
            var candidate: BrokerAddress?
            if LookupDecision.needsCandidate(owner: owner, servedHere: servedHere, authoritative: authoritative, isLeader: self.membership.isLeader) {
                candidate = try await self.place(bundle)
            }
            let decision = LookupDecision.decide(
                owner: owner, servedHere: servedHere, me: me.brokerId, authoritative: authoritative, leader: self.membership.leader?.address,
                candidate: candidate
            )
            switch decision {
            case .connectHere:
                return .connect(me)
            case .connect(let owner):
                return .connect(owner)
            case .redirect(let broker, let authoritative):
                return .redirect(broker, authoritative: authoritative)
            case .retry(let reason):
                throw BrokerError(.serviceNotReady, "\(bundle): \(reason); retry")
            case .acquire:
                if try await self.acquire(bundle, as: me) { return .connect(me) }
            }
        }
        throw BrokerError(.serviceNotReady, "\(bundle) changed hands while it was looked up; retry")
    }

    /// Deletes a key of `bundle` that names this broker but that it does not hold, so that
    /// the bundle can be placed again at once: one left by a session of this broker that
    /// ended (until the store expired that session, the bundle stayed unowned and every
    /// lookup was told to retry), or written in the current session by a claim whose answer
    /// was lost, or left by an unload whose delete failed (then kept for the whole
    /// session). The broker lists no bundle sharing a hash with it (none being released or
    /// split), so it serves none of its topics and nothing depends on the key. Runs as a
    /// claim, so that no claim of the bundle here writes the key meanwhile.
    func dropStaleKey(of bundle: Bundle, as me: BrokerAddress) async throws {
        _ = try await self.membership.claiming(bundle) {
            guard let stored = try await self.metadata.get(bundle.key), !self.membership.ownership.listsOverlapping(bundle),
                (try? BundleOwnerValue.decoded(stored.value))?.brokerId == me.brokerId
            else { return false }
            do {
                try await self.metadata.delete(bundle.key, expecting: .version(stored.version))
                self.logger.notice("deleted a key of a bundle this broker named as its owner but did not hold", metadata: ["bundle": "\(bundle)"])
            } catch let error as MetadataError where error.code == .badVersion || error.code == .notFound {
                // Changed or gone meanwhile: the lookup reads it again.
            }
            return false
        }
    }

    /// Makes sure this broker serves `name` before loading it: a topic whose bundle has
    /// no owner is placed as a lookup would (so a client that connects without a lookup
    /// is served where the bundle lands); one owned elsewhere is refused, so that its
    /// client looks it up.
    func ensureServed(_ name: TopicName) async throws {
        let hash = NamespaceBundles.hash(name.description)
        if self.membership.serves(name, hash: hash) { return }
        switch try await self.lookup(name, authoritative: false) {
        case .connect(let broker) where broker.brokerId == self.membership.identity?.brokerId:
            if self.membership.serves(name, hash: hash) { return }
            throw BrokerError(.serviceNotReady, "\(name) is not served by this broker now; look it up again")
        case .connect(let broker), .redirect(let broker, _):
            throw BrokerError(.serviceNotReady, "\(name) is served by \(broker.pulsarURL); look it up again")
        }
    }

    /// The bundle of `name`, under its namespace's current layout.
    func bundle(of name: TopicName) async throws -> Bundle {
        let layout = try await self.bundleLayout(tenant: name.tenant, namespace: name.namespace)
        return Bundle(tenant: name.tenant, namespace: name.namespace, range: layout.bundle(forTopic: name.description))
    }

    /// The bundle layout of a namespace: from its policies, where the first broker to need
    /// it writes the default one. A namespace that does not exist has none (`notFound`,
    /// TopicNotFound to a client, as in Pulsar): topics are created only inside existing
    /// namespaces, and a producer cannot make a tenant or namespace exist by naming it.
    func bundleLayout(tenant: String, namespace: String) async throws -> NamespaceBundles {
        let key = Self.policiesKey(tenant: tenant, namespace: namespace)
        while true {
            guard let stored = try await self.metadata.get(key) else {
                throw BrokerError(.notFound, "namespace \(tenant)/\(namespace) does not exist")
            }
            var policies = try NamespacePolicies.decoded(stored.value, key: key)
            if let bundles = policies.bundles { return bundles }
            let bundles = NamespaceBundles(count: self.membership.defaultBundles)
            policies.bundles = bundles
            do {
                _ = try await self.metadata.put(key, value: try policies.encoded(), expecting: .version(stored.version))
                return bundles
            } catch let error as MetadataError where error.code == .badVersion {
                continue
            }
        }
    }

    /// The bundle's ownership key, decoded (nil when it has no owner).
    func owner(of bundle: Bundle) async throws -> BundleOwnerValue? {
        guard let stored = try await self.metadata.get(bundle.key) else { return nil }
        do {
            return try BundleOwnerValue.decoded(stored.value)
        } catch {
            throw BrokerError(.metadata, "\(bundle.key) does not hold a bundle owner: \(error)")
        }
    }

    /// Takes `bundle` by creating its ephemeral key in this broker's session; false when
    /// another broker holds the key.
    /// Concurrent acquisitions of one bundle here share one claim.
    func acquire(_ bundle: Bundle, as me: BrokerAddress) async throws -> Bool {
        try await self.membership.claiming(bundle) {
            guard let version = try await self.claim(bundle, as: me) else { return false }
            self.membership.ownership.add(bundle, version: version)
            self.logger.info("owning bundle", metadata: ["bundle": "\(bundle)"])
            return true
        }
    }

    /// Creates the ephemeral key of `bundle` in this broker's session and returns its
    /// version; nil when another broker holds it, or holds a bundle overlapping it
    /// (`splitting`, the bundle this broker is splitting, aside).
    func claim(_ bundle: Bundle, as me: BrokerAddress, splitting: Bundle? = nil) async throws -> Int64? {
        guard let (session, generation) = self.membership.session.current() else {
            throw BrokerError(.serviceNotReady, "the broker has no metadata session now; retry")
        }
        let value = BundleOwnerValue(nativeUrl: me.pulsarURL, httpUrl: me.httpURL, disabled: false, brokerId: me.brokerId)
        let version: Int64
        do {
            version = try await self.metadata.put(bundle.key, value: try value.encoded(), expecting: .absent, session: session)
        } catch let error as MetadataError where error.code == .alreadyExists {
            return nil
        }
        // The session may have ended while the key was written: then it goes with it.
        guard self.membership.session.current()?.generation == generation else { return nil }
        // A bundle of another layout overlapping this one may be owned still (its owner is
        // splitting it, or this broker read the layout before a split): the key is given
        // back, and the lookup retried once the split is done.
        if try await self.overlapsAnOwnedBundle(bundle, except: splitting) {
            try? await self.metadata.delete(bundle.key, expecting: .version(version))
            return nil
        }
        return version
    }

    /// Whether a key of another bundle of the namespace sharing hashes with `bundle`
    /// exists (`except` aside).
    func overlapsAnOwnedBundle(_ bundle: Bundle, except: Bundle?) async throws -> Bool {
        for name in try await self.metadata.children(of: ClusterLayout.bundleOwners(tenant: bundle.tenant, namespace: bundle.namespace)) {
            guard name != bundle.range.name, name != except?.range.name, let range = BundleRange(name: name) else { continue }
            if range.overlaps(bundle.range) { return true }
        }
        return false
    }
}
