public import BookieStorage
import BookieWire
import Ledger
public import Metadata
import Synchronization

/// Says whether a key is the one a ledger was created with, for ledgers of which a bookie
/// holds no key yet: a bookie must not let a client that does not know a ledger's key
/// create the ledger on it, fence it or set its LAC (the ids are a counter anyone can
/// read off a receipt, and a fenced id would refuse its real writer later).
public protocol LedgerKeyAuthority: Sendable {
    /// Nil when `key` is ledger `ledgerID`'s; the refusal to answer otherwise.
    func check(ledgerID: UInt64, key: [UInt8]) async -> BookieStore.Refusal?
}

/// The keys of the ledgers in the metadata store (a ledger's key is its password, which
/// its creator stores before any add): an id the store has no ledger under is refused
/// as `noLedger`, a wrong key as `unauthorized`. Keys checked once are remembered, up to
/// `capacity` ledgers.
public final class MetadataLedgerKeys: LedgerKeyAuthority {
    private let metadata: any MetadataStore
    private let capacity: Int
    private let known = Mutex<[UInt64: [UInt8]]>([:])

    /// `capacity`: ledgers whose key is remembered (default 100 000); past it the memory
    /// starts again empty.
    public init(metadata: any MetadataStore, capacity: Int = 100_000) {
        self.metadata = metadata
        self.capacity = max(1, capacity)
    }

    public func check(ledgerID: UInt64, key: [UInt8]) async -> BookieStore.Refusal? {
        if let remembered = self.known.withLock({ $0[ledgerID] }) { return Self.compare(ledgerID, remembered, key) }
        guard ledgerID <= UInt64(Int64.max) else { return BookieStore.Refusal(.noLedger, "ledger ids are 0 to \(Int64.max); got \(ledgerID)") }
        let stored: Versioned?
        do {
            stored = try await self.metadata.get(ClusterLayout.ledger(ledgerID))
        } catch {
            return BookieStore.Refusal(.ioError, "the metadata of ledger \(ledgerID) could not be read to check its key: \(error)")
        }
        guard let stored else { return BookieStore.Refusal(.noLedger, "ledger \(ledgerID) does not exist in the metadata store") }
        let metadata: LedgerMetadata
        do {
            metadata = try LedgerMetadata.decoded(stored.value, ledgerID: Int64(ledgerID))
        } catch {
            return BookieStore.Refusal(.ioError, "the metadata of ledger \(ledgerID) does not decode: \(error)")
        }
        let real = Array(metadata.password.utf8)
        self.known.withLock { known in
            if known.count >= self.capacity { known.removeAll(keepingCapacity: true) }
            known[ledgerID] = real
        }
        return Self.compare(ledgerID, real, key)
    }

    private static func compare(_ ledgerID: UInt64, _ real: [UInt8], _ key: [UInt8]) -> BookieStore.Refusal? {
        real == key ? nil : BookieStore.Refusal(.unauthorized, "ledger \(ledgerID) was created with another key")
    }
}
