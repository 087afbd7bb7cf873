public import Ledger

/// Which ledgers an audit marks: the closed ones with a copy on a lost bookie, each with
/// the lost bookies it names. Open ledgers are their writer's to fix (an ensemble change
/// on a failed add; recovery when the writer is gone); a later audit marks them once they
/// are closed.
public enum LedgerAudit {
    public static func ledgersToMark(_ ledgers: [(id: Int64, metadata: LedgerMetadata)], lost: Set<String>) -> [(id: Int64, bookies: Set<String>)] {
        ledgers.compactMap { ledger in
            guard ledger.metadata.state == .closed else { return nil }
            let bookies = ledger.metadata.bookies.intersection(lost)
            return bookies.isEmpty ? nil : (ledger.id, bookies)
        }
    }
}
