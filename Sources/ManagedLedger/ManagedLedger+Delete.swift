import Foundation
public import Ledger
public import Metadata

extension ManagedLedger {
    /// Deletes a log that no one has open: its cursors, its ledger list, then its ledgers
    /// (best effort: a ledger left behind only wastes space). Returns false when there
    /// was no such log.
    @discardableResult
    public static func delete(name: String, client: LedgerClient, metadata: any MetadataStore) async throws -> Bool {
        let key = Self.key(name)
        guard let stored = try await metadata.get(key) else { return false }
        let ledgers: [LedgerInfo]
        do {
            ledgers = try JSONDecoder().decode(LedgerList.self, from: Data(stored.value)).ledgers
        } catch {
            throw ManagedLedgerError(.corruptMetadata, "\(key) does not hold a ledger list", cause: error)
        }
        do {
            for cursor in try await metadata.children(of: "\(key)/cursors") {
                try await Self.deleteIgnoringAbsence(metadata, "\(key)/cursors/\(cursor)")
            }
            try await metadata.delete(key, expecting: .version(stored.version))
        } catch {
            throw ManagedLedgerError.from(error, "deleting managed ledger \(name)")
        }
        for info in ledgers { try? await client.deleteLedger(info.id) }
        return true
    }

    private static func deleteIgnoringAbsence(_ metadata: any MetadataStore, _ key: String) async throws {
        do {
            try await metadata.delete(key)
        } catch let error as MetadataError where error.code == .notFound {}
    }
}
