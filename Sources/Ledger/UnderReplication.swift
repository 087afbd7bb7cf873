import Foundation
public import Metadata

/// The mark on a ledger whose copies on some bookies are to be replaced
/// (`/ledgers/underreplication/ledgers/<id>`, JSON).
public struct UnderReplicationMarker: Codable, Hashable, Sendable {
    /// The bookies whose copies are to be replaced, sorted.
    public var bookies: [String]
    /// Why: `lost`, `decommissioned`, `verify`.
    public var reason: String
    /// Milliseconds since 1970.
    public var markedAt: Int64

    /// A mark made now, unless `markedAt` says when.
    public init(bookies: [String], reason: String, markedAt: Int64? = nil) {
        self.bookies = bookies.sorted()
        self.reason = reason
        self.markedAt = markedAt ?? Int64(Date().timeIntervalSince1970 * 1000)
    }
}

/// The metadata of re-replication: marks on under-replicated ledgers, decommission marks
/// on bookies, and who references a bookie.
public enum UnderReplication {
    /// Marks `ledgerID` for the replacement of `bookies`' copies, adding them to an
    /// existing mark. Returns whether the store changed.
    @discardableResult
    public static func mark(_ ledgerID: Int64, bookies: Set<String>, reason: String, in store: any MetadataStore) async throws -> Bool {
        let key = ClusterLayout.underReplicatedLedger(UInt64(ledgerID))
        while true {
            let current = try await self.marker(ledgerID, in: store)
            let existing = Set(current?.marker.bookies ?? [])
            if bookies.isSubset(of: existing) { return false }
            let marker = UnderReplicationMarker(bookies: Array(existing.union(bookies)), reason: current?.marker.reason ?? reason)
            do {
                try await store.put(key, value: try Self.encode(marker), expecting: current.map { .version($0.version) } ?? .absent)
                return true
            } catch let error as MetadataError where error.code == .badVersion || error.code == .alreadyExists || error.code == .notFound {
                continue  // Changed meanwhile: merge again.
            }
        }
    }

    /// The mark on `ledgerID` and its version, if any; an unreadable mark reads as one
    /// naming no bookie.
    public static func marker(_ ledgerID: Int64, in store: any MetadataStore) async throws -> (marker: UnderReplicationMarker, version: Int64)? {
        guard let stored = try await store.get(ClusterLayout.underReplicatedLedger(UInt64(ledgerID))) else { return nil }
        let marker = (try? JSONDecoder().decode(UnderReplicationMarker.self, from: Data(stored.value))) ?? UnderReplicationMarker(bookies: [], reason: "unreadable")
        return (marker, stored.version)
    }

    /// The ids of the marked ledgers, in order.
    public static func markedLedgers(in store: any MetadataStore) async throws -> [Int64] {
        try await store.children(of: ClusterLayout.underReplicatedLedgers).compactMap { Int64($0) }.sorted()
    }

    /// Removes the mark if it is still at `version` (a mark extended meanwhile stays).
    public static func unmark(_ ledgerID: Int64, version: Int64, in store: any MetadataStore) async throws {
        do {
            try await store.delete(ClusterLayout.underReplicatedLedger(UInt64(ledgerID)), expecting: .version(version))
        } catch let error as MetadataError where error.code == .badVersion || error.code == .notFound {
            return
        }
    }

    /// The ids of every ledger, in order.
    public static func ledgerIDs(in store: any MetadataStore) async throws -> [Int64] {
        try await store.children(of: ClusterLayout.ledgers).compactMap { Int64($0) }.sorted()
    }

    /// Every ledger's metadata (ledgers deleted meanwhile are left out; ones whose metadata
    /// cannot be read are returned as errors).
    public static func allLedgers(in store: any MetadataStore) async throws -> [(id: Int64, metadata: Result<LedgerMetadata, LedgerError>)] {
        var found: [(Int64, Result<LedgerMetadata, LedgerError>)] = []
        for id in try await self.ledgerIDs(in: store) {
            guard let stored = try await store.get(ClusterLayout.ledger(UInt64(id))) else { continue }
            do {
                found.append((id, .success(try LedgerMetadata.decode(stored.value, ledgerID: id))))
            } catch {
                found.append((id, .failure(error)))
            }
        }
        return found
    }

    /// The ledgers whose ensembles name `bookie`.
    public static func ledgers(referencing bookie: String, in store: any MetadataStore) async throws -> [Int64] {
        try await self.allLedgers(in: store).compactMap { id, metadata in
            guard case .success(let metadata) = metadata, metadata.bookies.contains(bookie) else { return nil }
            return id
        }
    }

    /// The bookies marked decommissioned.
    public static func decommissioned(in store: any MetadataStore) async throws -> Set<String> {
        Set(try await store.children(of: ClusterLayout.decommissionedBookies))
    }

    /// Marks `bookie` decommissioned: it takes no new ensembles, and the auditor has its
    /// copies moved elsewhere.
    public static func decommission(_ bookie: String, in store: any MetadataStore) async throws {
        let value = try JSONEncoder().encode(["decommissionedAt": Int64(Date().timeIntervalSince1970 * 1000)])
        try await store.put(ClusterLayout.decommissionedBookie(bookie), value: Array(value))
    }

    /// Removes a drained bookie from the cluster: its registration, cookie and decommission
    /// mark. Throws `invalidArgument` unless it is decommissioned and no ledger names it.
    public static func removeDecommissioned(_ bookie: String, in store: any MetadataStore) async throws {
        guard try await store.get(ClusterLayout.decommissionedBookie(bookie)) != nil else {
            throw LedgerError(.invalidArgument, "bookie \(bookie) is not decommissioned")
        }
        let remaining = try await self.ledgers(referencing: bookie, in: store)
        guard remaining.isEmpty else {
            throw LedgerError(.invalidArgument, "\(remaining.count) ledgers still have copies on bookie \(bookie)")
        }
        for key in [ClusterLayout.availableBookie(bookie), ClusterLayout.cookie(bookie), ClusterLayout.decommissionedBookie(bookie)] {
            do {
                try await store.delete(key)
            } catch let error as MetadataError where error.code == .notFound {
                continue
            }
        }
    }

    static func encode(_ marker: UnderReplicationMarker) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(marker))
    }
}
