import Metadata
import PulsarWire
import Synchronization

/// A namespace bundle: a range of a namespace's topic-name hashes, the unit of ownership.
struct Bundle: Hashable, Sendable, CustomStringConvertible {
    var tenant: String
    var namespace: String
    var range: BundleRange

    /// `tenant/namespace/0x…_0x…`, Pulsar's name of a bundle.
    var description: String { "\(self.tenant)/\(self.namespace)/\(self.range.name)" }

    /// The ownership key of the bundle.
    var key: String { ClusterLayout.bundleOwner(tenant: self.tenant, namespace: self.namespace, range: self.range.name) }

    /// Whether `topic` falls in the bundle.
    func contains(_ topic: TopicName) -> Bool {
        topic.tenant == self.tenant && topic.namespace == self.namespace && self.range.contains(NamespaceBundles.hash(topic.description))
    }

    /// Whether the two bundles share a hash.
    func overlaps(_ other: Bundle) -> Bool {
        self.tenant == other.tenant && self.namespace == other.namespace && self.range.overlaps(other.range)
    }
}

extension Bundle {
    /// Parses `tenant/namespace/0x…_0x…`.
    init?(name: String) {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, let range = BundleRange(name: parts[2]) else { return nil }
        self.init(tenant: parts[0], namespace: parts[1], range: range)
    }
}

/// The bundles this broker owns.
///
/// An entry is added once the bundle's ephemeral key is won and removed when the broker
/// releases the bundle, loses its session, or sees the key deleted. A bundle being
/// released is still listed, as `releasing`, and counts as not owned.
final class BundleOwnership: Sendable {
    private struct Namespace {
        /// The version of each owned bundle's key.
        var owned: [BundleRange: Int64] = [:]
        var releasing: Set<BundleRange> = []
    }

    /// A namespace, as a key that costs no allocation to make (checked on every receipt).
    private struct NamespaceKey: Hashable {
        var tenant: String
        var namespace: String
    }

    private let table = Mutex<[NamespaceKey: Namespace]>([:])

    private static func name(_ tenant: String, _ namespace: String) -> NamespaceKey { NamespaceKey(tenant: tenant, namespace: namespace) }

    /// Whether the broker owns, and is not releasing, a bundle of `tenant/namespace`
    /// holding the topic-name hash `hash` (whatever bundle it is in after a split).
    func holds(tenant: String, namespace: String, hash: UInt32) -> Bool {
        self.table.withLock { table in
            guard let entry = table[Self.name(tenant, namespace)] else { return false }
            return entry.owned.keys.contains { $0.contains(hash) && !entry.releasing.contains($0) }
        }
    }

    /// Replaces the owned bundle `parent` by `children` (each at its key's version).
    func split(_ parent: Bundle, into children: [(BundleRange, Int64)]) {
        self.table.withLock { table in
            let name = Self.name(parent.tenant, parent.namespace)
            guard var entry = table[name] else { return }
            entry.owned[parent.range] = nil
            for (range, version) in children { entry.owned[range] = version }
            table[name] = entry
        }
    }

    /// Whether the broker owns `bundle` and is not releasing it.
    func holds(_ bundle: Bundle) -> Bool {
        self.table.withLock { table in
            guard let entry = table[Self.name(bundle.tenant, bundle.namespace)] else { return false }
            return entry.owned[bundle.range] != nil && !entry.releasing.contains(bundle.range)
        }
    }

    /// Records a bundle won at `version`.
    func add(_ bundle: Bundle, version: Int64) {
        self.table.withLock { table in
            let name = Self.name(bundle.tenant, bundle.namespace)
            var entry = table[name] ?? Namespace()
            entry.owned[bundle.range] = version
            table[name] = entry
        }
    }

    /// Marks an owned bundle as being released; returns its key's version (nil when the
    /// bundle is not owned or already being released).
    func beginRelease(_ bundle: Bundle) -> Int64? {
        self.table.withLock { table in
            let name = Self.name(bundle.tenant, bundle.namespace)
            guard var entry = table[name], let version = entry.owned[bundle.range], !entry.releasing.contains(bundle.range) else { return nil }
            entry.releasing.insert(bundle.range)
            table[name] = entry
            return version
        }
    }

    /// Whether a bundle sharing a hash with `bundle` is listed (being released, or being
    /// split into `bundle`, included).
    func listsOverlapping(_ bundle: Bundle) -> Bool {
        self.table.withLock { table in
            table[Self.name(bundle.tenant, bundle.namespace)]?.owned.keys.contains { $0.overlaps(bundle.range) } ?? false
        }
    }

    /// The version of an owned bundle's key.
    func version(of bundle: Bundle) -> Int64? {
        self.table.withLock { $0[Self.name(bundle.tenant, bundle.namespace)]?.owned[bundle.range] }
    }

    /// Forgets a bundle; true when it was listed.
    @discardableResult
    func remove(_ bundle: Bundle) -> Bool {
        self.table.withLock { table in
            let name = Self.name(bundle.tenant, bundle.namespace)
            guard var entry = table[name], entry.owned.removeValue(forKey: bundle.range) != nil else { return false }
            entry.releasing.remove(bundle.range)
            table[name] = entry.owned.isEmpty ? nil : entry
            return true
        }
    }

    /// Forgets every bundle (the session ended) and returns them.
    func removeAll() -> [Bundle] {
        self.table.withLock { table in
            defer { table.removeAll() }
            return Self.list(table)
        }
    }

    /// The bundles owned (releasing ones included), by name.
    func owned() -> [Bundle] {
        self.table.withLock { Self.list($0) }
    }

    /// The listed bundle whose ownership key is `key`.
    func bundle(withKey key: String) -> Bundle? {
        self.owned().first { $0.key == key }
    }

    private static func list(_ table: [NamespaceKey: Namespace]) -> [Bundle] {
        table.flatMap { name, entry in
            entry.owned.keys.map { Bundle(tenant: name.tenant, namespace: name.namespace, range: $0) }
        }
        .sorted { $0.description < $1.description }
    }
}
