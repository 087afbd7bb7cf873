import Ledger
import Logging
import Metadata

/// What storage holds of a lost message: whether its receipt position lies within its
/// ledger as the ledger ended (then the subscription skipped a stored message) or past
/// it (then the ledger was closed before an entry already confirmed to its producer),
/// and which bookies of the entry's write set have it.
enum LossDiagnosis {
    static func describe(_ losses: [WorkloadReport.Loss], metadataURL: String) async -> [String] {
        guard !losses.isEmpty else { return [] }
        let store: any MetadataStore
        do {
            store = try await MetadataStoreURL.open(metadataURL, logger: Logger(label: "loss-diagnosis"))
        } catch {
            return ["cannot open the metadata store: \(error)"]
        }
        let client = LedgerClient(metadata: store)
        var lines: [String] = []
        for position in Set(losses.map(\.receiptPosition)).sorted() {
            lines.append("\(position): " + (await self.describe(position, client: client)))
        }
        await client.close()
        await store.close()
        return lines
    }

    private static func describe(_ position: Position, client: LedgerClient) async -> String {
        let metadata: LedgerMetadata
        do {
            metadata = try await client.readMetadata(position.ledger).0
        } catch {
            return "ledger \(position.ledger) unreadable: \(error)"
        }
        var text = "ledger \(position.ledger) \(metadata.state)"
        if metadata.state == .closed {
            text += position.entry <= metadata.lastEntryID
                ? ", last entry \(metadata.lastEntryID): stored within the ledger"
                : ", last entry \(metadata.lastEntryID): PAST THE LEDGER'S END"
        }
        text += "; ensembles \(metadata.ensembles.map { "\($0.firstEntryID): \($0.bookies)" })"
        let reader: LedgerReader
        do {
            reader = try await client.openLedger(position.ledger)
        } catch {
            return text + "; cannot open: \(error)"
        }
        for bookie in metadata.writeSet(for: position.entry) {
            do {
                _ = try await reader.readCopy(position.entry, from: bookie)
                text += "; \(bookie) has it"
            } catch {
                text += "; \(bookie): \(error)"
            }
        }
        return text
    }
}
